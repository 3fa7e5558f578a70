# The demo's network root module: state in S3 outside Spacelift (DR-CON-01 … 04).
terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  backend "s3" {
    bucket       = "spacelift-tfstate-ab12c"
    key          = "network/terraform.tfstate"
    region       = "eu-west-1"
    use_lockfile = true
  }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
  assume_role {
    role_arn = "arn:aws:iam::123456789012:role/spacelift-deploy-network-ab12c"
  }
}

module "vpc" {
  source     = "../modules/vpc"
  cidr_block = "10.20.0.0/16"
}
