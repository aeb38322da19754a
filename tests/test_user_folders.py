"""Where skillcrate keeps the user's config, cache and state: a relative XDG variable is
ignored, as the XDG Base Directory spec says, by every part alike (the no-op check, the
CLI's config and global files, the cache)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from skillcrate import config, fastpath
from skillcrate.cache import Cache

pytestmark = pytest.mark.skipif(
    sys.platform in ("win32", "darwin"), reason="the XDG variables apply on Linux and other Unixes"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("SKILLCRATE_CONFIG_DIR", "SKILLCRATE_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # a relative value would land here: the project, say
    return tmp_path / "home"


def test_a_relative_xdg_value_is_ignored_everywhere(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, "relative/folder")
    assert config.config_dir() == home / ".config" / "skillcrate"
    assert config.global_dir() == config.config_dir() / fastpath.GLOBAL_DIR
    assert fastpath.global_files_path() == str(config.global_dir())
    assert Cache().root == home / ".cache" / "skillcrate"
    assert fastpath.state_dir() == home / ".local" / "state" / "skillcrate"


def test_an_absolute_xdg_value_is_used_everywhere(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, name in (("XDG_CONFIG_HOME", "c"), ("XDG_CACHE_HOME", "k"), ("XDG_STATE_HOME", "s")):
        monkeypatch.setenv(var, str(tmp_path / name))
    assert config.config_dir() == tmp_path / "c" / "skillcrate"
    assert config.global_dir() == tmp_path / "c" / "skillcrate" / fastpath.GLOBAL_DIR
    assert fastpath.global_files_path() == str(config.global_dir())
    assert Cache().root == tmp_path / "k" / "skillcrate"
    assert fastpath.state_dir() == tmp_path / "s" / "skillcrate"


def test_unset_xdg_values_give_the_home_defaults(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    assert config.config_dir() == home / ".config" / "skillcrate"
    assert Cache().root == home / ".cache" / "skillcrate"
    assert fastpath.state_dir() == home / ".local" / "state" / "skillcrate"
    assert not os.path.exists(home)  # computing a folder creates nothing
