"""Masker: plain values, encoded forms, multi-line values, overlaps, threads, and a property test."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from delegate.secrets import MASK, Masker

# Its base64 contains "+" and "/", so the standard and URL-safe alphabets give different strings.
B64_SECRET = "s3cr3t>>>???"


def masker_with(*values: str) -> Masker:
    masker = Masker()
    for value in values:
        masker.add(value)
    return masker


def test_plain_value_is_replaced_everywhere() -> None:
    masker = masker_with("hunter22")
    assert masker.mask("pw=hunter22, again hunter22.") == f"pw={MASK}, again {MASK}."


def test_text_without_secrets_is_returned_unchanged() -> None:
    assert Masker().mask("nothing registered") == "nothing registered"
    assert masker_with("hunter22").mask("nothing here") == "nothing here"
    assert masker_with("hunter22").mask("") == ""


def test_short_values_are_registered_but_not_masked() -> None:
    masker = masker_with("abc", "")
    assert masker.mask("abc abcdef") == "abc abcdef"
    assert "abc" in masker
    assert "" not in masker
    assert masker.secret_count == 1
    assert Masker()  # never falsy, even when empty


def test_base64_forms_are_masked() -> None:
    raw = B64_SECRET.encode()
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode()
    assert standard != urlsafe
    masker = masker_with(B64_SECRET)
    for form in (standard, standard.rstrip("="), urlsafe, urlsafe.rstrip("=")):
        assert masker.mask(f"Authorization: Basic {form}") == f"Authorization: Basic {MASK}"


def test_base64_forms_without_padding_are_masked() -> None:
    value = "pass1"  # 5 bytes: base64 ends in "=", so the unpadded form is a distinct string
    padded = base64.b64encode(value.encode()).decode()
    assert padded.endswith("=")
    masker = masker_with(value)
    assert masker.mask(f"token {padded.rstrip('=')}!") == f"token {MASK}!"


def test_url_encoded_forms_are_masked() -> None:
    value = "p@ss w/rd&x=1"
    masker = masker_with(value)
    for form in (quote(value, safe=""), quote(value), quote_plus(value)):
        assert value not in form
        assert masker.mask(f"https://u:{form}@host/") == f"https://u:{MASK}@host/"


def test_multi_line_secret_whole_and_each_line() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END KEY-----\n"
    masker = masker_with(key)
    assert masker.mask(f"key: {key}done") == f"key: {MASK}done"
    # Tools often log such values one line at a time.
    assert masker.mask("line: hkiG9w0BAQEFAASC") == f"line: {MASK}"
    # ...or as an escaped JSON string.
    assert masker.mask(json.dumps({"key": key})) == json.dumps({"key": MASK})


def test_multi_line_secret_trivial_lines_are_not_masked() -> None:
    masker = masker_with("longline-one\n\n--\nlongline-two")
    assert masker.mask("-- a b --") == "-- a b --"
    assert masker.mask("longline-two") == MASK


def test_overlapping_secrets_are_masked_completely() -> None:
    masker = masker_with("abcdef", "defghi")
    assert masker.mask("xxabcdefghiyy") == f"xx{MASK}yy"


def test_overlapping_secrets_added_between_masks() -> None:
    # Forms added after a mask() land in a separate compiled level; spans from all levels merge.
    masker = masker_with("abcdef")
    assert masker.mask("abcdef") == MASK
    masker.add("defghi")
    assert masker.mask("xxabcdefghiyy") == f"xx{MASK}yy"


def test_deeply_nested_prefixes_compile() -> None:
    # "aaaa", "aaaaa", ...: one nested group per value would exceed re's recursion limit.
    masker = masker_with(*("a" * length for length in range(4, 400)))
    assert masker.mask("b" + "a" * 1000 + "b aaa") == f"b{MASK}b aaa"


def test_longest_value_wins_over_its_prefix() -> None:
    masker = masker_with("secret", "secretvalue")
    assert masker.mask("a secretvalue b secret") == f"a {MASK} b {MASK}"


def test_secret_inside_another_secret() -> None:
    masker = masker_with("word", "mypassword123")
    assert masker.mask("mypassword123 word sword") == f"{MASK} {MASK} s{MASK}"


def test_many_secrets() -> None:
    values = [f"secret-{i:05d}-value" for i in range(2000)]
    masker = masker_with(*values)
    line = " | ".join(values[::97])
    masked = masker.mask(line)
    assert masked == " | ".join([MASK] * len(values[::97]))


def test_mask_obj_masks_nested_strings_and_keeps_other_values() -> None:
    masker = masker_with("hunter22")
    original = {"password": "hunter22", "list": ["x", "a hunter22 b", 3, None], "t": ("hunter22",), "n": 1.5}
    masked = masker.mask_obj(original)
    assert masked == {"password": MASK, "list": ["x", f"a {MASK} b", 3, None], "t": (MASK,), "n": 1.5}
    assert original["password"] == "hunter22"  # a copy, not an in-place edit


def test_mask_obj_masks_keys() -> None:
    assert masker_with("hunter22").mask_obj({"hunter22": 1}) == {MASK: 1}


def test_concurrent_add_and_mask() -> None:
    masker = Masker()
    threads = 8
    barrier = threading.Barrier(threads)
    leaks: list[str] = []

    def work(n: int) -> None:
        barrier.wait()
        for i in range(200):
            value = f"thread{n}-secret-{i}"
            masker.add(value)
            # A value added before mask() is called must be masked, whatever other threads do.
            if value in masker.mask(f"<{value}>"):
                leaks.append(value)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert leaks == []
    assert masker.secret_count == threads * 200
    assert masker.mask("thread3-secret-150 thread7-secret-0") == f"{MASK} {MASK}"


# "*" is excluded: a secret such as "x***" can reappear by coincidence next to the "**********"
# that replaced another occurrence, which would be a false alarm rather than a leak.
secrets_st = st.text(alphabet=st.characters(blacklist_characters="*"), min_size=4, max_size=40)


@given(secret=secrets_st, before=st.text(max_size=60), after=st.text(max_size=60))
def test_property_masked_text_never_contains_the_secret(secret: str, before: str, after: str) -> None:
    masked = masker_with(secret).mask(before + secret + after)
    assert secret not in masked
    assert MASK in masked


@given(secret=secrets_st, before=st.text(max_size=30), after=st.text(max_size=30))
def test_property_masked_text_never_contains_the_secret_in_base64(secret: str, before: str, after: str) -> None:
    encoded = base64.b64encode(secret.encode()).decode()
    masked = masker_with(secret).mask(before + encoded + after)
    assert encoded not in masked


def reference_mask(text: str, secrets: list[str]) -> str:
    """Brute force: mark every character covered by any occurrence, then mask each covered run."""
    covered = [False] * len(text)
    for secret in secrets:
        start = text.find(secret)
        while start != -1:
            covered[start : start + len(secret)] = [True] * len(secret)
            start = text.find(secret, start + 1)
    out: list[str] = []
    for i, char in enumerate(text):
        if not covered[i]:
            out.append(char)
        elif i == 0 or not covered[i - 1]:
            out.append(MASK)
    return "".join(out)


# Over a three-letter alphabet secrets overlap and nest constantly, and none of their encoded forms
# (base64 starts with "Y" for "a"...) can occur in such text, so the brute force is an exact oracle.
small = st.text(alphabet="abc", min_size=4, max_size=8)


@given(secrets=st.lists(small, min_size=1, max_size=12), text=st.text(alphabet="abc ", max_size=80))
def test_property_matches_brute_force_with_overlaps(secrets: list[str], text: str) -> None:
    masker = Masker()
    for i, secret in enumerate(secrets):
        masker.add(secret)
        if i % 3 == 0:
            masker.mask(text)  # compile now, so later secrets land in further levels
    assert masker.mask(text) == reference_mask(text, secrets)
