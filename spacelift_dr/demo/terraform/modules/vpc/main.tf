# A child module: called by ../network, so it is not a root module of its own.
terraform {
  required_version = ">= 1.3"
}

variable "cidr_block" {
  type = string
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_hostnames = true
}

output "vpc_id" {
  value = aws_vpc.this.id
}
