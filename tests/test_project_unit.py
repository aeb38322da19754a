"""Pure parts of project operations."""

import pytest

from skillcrate.ops import moved_spec


@pytest.mark.parametrize(
    ("spec", "kind", "newest", "saved"),
    [
        ("^1.2.0", "range", "2.0.1", "^2.0.1"),
        ("~1.2", "range", "2.3.4", "~2.3.4"),
        ("~1.2.0", "range", "2.3.4", "~2.3.4"),
        ("1.2.0", "exact", "2.0.0", "2.0.0"),
        (">=1 <2", "range", "2.1.0", "^2.1.0"),
        ("1.x", "range", "3.0.0", "^3.0.0"),
    ],
)
def test_update_latest_keeps_the_spec_style(spec, kind, newest, saved):
    assert moved_spec(spec, kind, newest) == saved
