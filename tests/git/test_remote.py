"""OWNER/NAME from an origin URL only when the URL names a hosted repository."""

from __future__ import annotations

import pytest

from gate.git.remote import hosted_name


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/octo-org/shop", "octo-org/shop"),
        ("https://github.com/octo-org/shop.git", "octo-org/shop"),
        ("git@github.com:octo-org/shop.git", "octo-org/shop"),
        ("ssh://git@ghe.example.com:2222/octo-org/shop.git/", "octo-org/shop"),
        ("/home/ada/repos/flask", None),  # a clone of a local path: its directories name nothing
        ("file:///home/ada/repos/flask", None),
        ("../repos/flask", None),
        ("https://gitlab.example.com/group/sub/project", None),
    ],
)
def test_only_hosted_urls_give_a_name(url: str, name: str | None):
    assert hosted_name(url) == name
