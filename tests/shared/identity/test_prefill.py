"""Prefill: the default mapping, the account's mapping on top, and what is skipped."""

from __future__ import annotations

from shared.identity import prefill
from shared.identity.prefill import MAX_VALUE_CHARS


def test_default_mapping_fills_fields_of_their_own_names() -> None:
    """Members of profile, form and optin fill the field of their own name."""
    claims = {
        "sub": "p-1",
        "profile": {"email": "ada@example.com"},
        "form": {"city": "Paris"},
        "optin": {"newsletter": True},
        "custom": {"ignored": "x"},
    }
    assert prefill(claims, {}) == {
        "email": "ada@example.com",
        "city": "Paris",
        "newsletter": True,
    }


def test_form_wins_over_profile_and_optin_over_form() -> None:
    """Later default sources win for the same field: profile, then form, then optin."""
    claims = {"profile": {"x": "p"}, "form": {"x": "f", "y": "f"}, "optin": {"y": False}}
    assert prefill(claims, {}) == {"x": "f", "y": False}


def test_explicit_mapping_wins() -> None:
    """An account's mapping entry wins for its field and can read sub and nested paths."""
    claims = {
        "sub": "p-1",
        "profile": {"email": "default@example.com", "contact": {"mail": "explicit@example.com"}},
        "custom": {"id": 42},
    }
    mapping = {"profile.contact.mail": "email", "sub": "participant", "custom.id": "client_id"}
    assert prefill(claims, mapping) == {
        "email": "explicit@example.com",
        "participant": "p-1",
        "client_id": "42",
    }


def test_mapping_to_a_missing_path_changes_nothing() -> None:
    """A mapping entry whose path is absent leaves the default value in place."""
    claims = {"profile": {"email": "a@example.com"}}
    assert prefill(claims, {"profile.nope.deep": "email", "custom.x": "x"}) == {
        "email": "a@example.com"
    }


def test_non_scalars_and_long_values_are_skipped() -> None:
    """Objects, lists, null and values over MAX_VALUE_CHARS fill nothing."""
    claims = {
        "profile": {
            "address": {"city": "Paris"},
            "tags": ["a"],
            "nothing": None,
            "bio": "x" * (MAX_VALUE_CHARS + 1),
            "name": "y" * MAX_VALUE_CHARS,
        }
    }
    assert prefill(claims, {"profile.address": "addr", "profile.tags": "tags"}) == {
        "name": "y" * MAX_VALUE_CHARS
    }


def test_numbers_become_text_and_bools_are_kept() -> None:
    """Numbers are shown as text; booleans stay booleans (checkboxes)."""
    claims = {"profile": {"age": 37, "score": 1.5, "vip": True, "optout": False}}
    assert prefill(claims, {}) == {"age": "37", "score": "1.5", "vip": True, "optout": False}


def test_bad_member_names_and_non_object_sources_are_skipped() -> None:
    """Members that are no valid field name, and sources that are not objects, fill nothing."""
    claims = {"profile": {"First-Name": "Ada", "ok": "1", "": "x"}, "form": ["a"], "optin": "yes"}
    assert prefill(claims, {}) == {"ok": "1"}
