"""The redactor's patterns run only where a cheap search says they can match (issue 18): that search must
never skip a text the pattern would change. Checked against the patterns run on every text."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from spacelift_dr import redaction
from spacelift_dr.redaction import MASK, Redactor


def _always(value: str) -> str:
    """What the redactor's patterns make of ``value`` when every pattern runs."""
    value = redaction._PEM.sub(MASK, value)
    value = redaction._DSN_PASSWORD.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{MASK}@", value)
    return redaction._KEYWORD_PASSWORD.sub(lambda m: f"{m.group('key')}{MASK}", value)


PIECES = st.sampled_from(["postgres://", "://", "user", ":", "@", "pw", " ", "\n", "PassWord", "paſſword", "=",
                          "'", "x", "1", "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----",
                          "ß", "İ", "/", "tls://host:8883"])


@given(st.lists(PIECES | st.text(max_size=4), max_size=24).map("".join))
@example("postgres://admin:s3cret@db/spacelift")
@example("host=db PASSWORD = 'two words' user=x")
@example("paſſword=hunter22")
@example("tls://mqtt.example.com:8883 and mysql://u:p@h")
def test_the_cheap_searches_never_skip_a_match(text: str) -> None:
    assert Redactor().text(text) == _always(text)
