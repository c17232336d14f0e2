from __future__ import annotations

from pathlib import Path

from dulwich import porcelain

from repro.environment.gitstate import describe, git_state
from tests.environment.gitutil import commit, detach, make_repo, set_remote


def test_clean_repo(tmp_path: Path) -> None:
    sha = make_repo(tmp_path / "r", {"a.py": "x = 1\n", "sub/b.py": "y = 2\n"})
    state = git_state(tmp_path / "r")
    assert state is not None
    assert state["commit"] == sha and len(sha) == 40
    assert state["branch"] == "master"
    assert state["dirty"] is False
    assert state["dirty_check"] == "complete"
    assert "remote" not in state and "tag" not in state


def test_subfolder_finds_enclosing_repo_unless_told_not_to(tmp_path: Path) -> None:
    sha = make_repo(tmp_path / "r", {"sub/b.py": "y = 2\n"})
    state = git_state(tmp_path / "r" / "sub")
    assert state is not None and state["commit"] == sha
    assert git_state(tmp_path / "r" / "sub", search_parents=False) is None


def test_modified_tracked_file_is_dirty(tmp_path: Path) -> None:
    make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    (tmp_path / "r" / "a.py").write_text("x = 2  # changed, longer\n")
    state = git_state(tmp_path / "r")
    assert state is not None
    assert state["dirty"] is True and state["dirty_check"] == "modified"


def test_staged_change_is_dirty(tmp_path: Path) -> None:
    make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    (tmp_path / "r" / "new.py").write_text("z = 3\n")
    porcelain.add(str(tmp_path / "r"), paths=[str(tmp_path / "r" / "new.py")])
    state = git_state(tmp_path / "r")
    assert state is not None
    assert state["dirty"] is True and state["dirty_check"] == "staged"


def test_untracked_file_is_dirty_but_ignored_one_is_not(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo, {"a.py": "x = 1\n", ".gitignore": "*.log\n__pycache__/\n"})
    (repo / "run.log").write_text("noise")
    (repo / "__pycache__").mkdir()
    (repo / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    state = git_state(repo)
    assert state is not None and state["dirty"] is False
    (repo / "deep" / "er").mkdir(parents=True)
    (repo / "deep" / "er" / "notes.txt").write_text("untracked")
    state = git_state(repo)
    assert state is not None
    assert state["dirty"] is True and state["dirty_check"] == "untracked"


def test_dirty_check_is_bounded(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo, {"a.py": "x = 1\n", ".gitignore": "*.log\n"})
    for i in range(30):
        (repo / f"{i}.log").write_text("ignored")
    state = git_state(repo, max_walk=10)
    assert state is not None
    assert "dirty" not in state and state["dirty_check"] == "truncated"
    # The same tree with room to look is known clean.
    state = git_state(repo)
    assert state is not None and state["dirty"] is False


def test_git_state_does_not_write_to_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo, {"a.py": "x = 1\n"})
    index = repo / ".git" / "index"
    before = index.read_bytes(), index.stat().st_mtime_ns
    (repo / "a.py").touch()  # stat drift, same content: git status would refresh the index
    state = git_state(repo)
    assert state is not None and state["dirty"] is False
    assert (index.read_bytes(), index.stat().st_mtime_ns) == before


def test_branch_detached_and_remote(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    first = make_repo(repo, {"a.py": "1\n"})
    second = commit(repo, {"a.py": "2\n"})
    porcelain.branch_create(str(repo), "feature")
    porcelain.checkout(str(repo), "feature")
    set_remote(repo, "https://github.com/comfyanonymous/ComfyUI")
    state = git_state(repo)
    assert state is not None
    assert (state["branch"], state["commit"]) == ("feature", second)
    assert state["remote"] == "https://github.com/comfyanonymous/ComfyUI"
    detach(repo, first)
    (repo / "a.py").write_text("1\n")  # work tree as a checkout of `first` leaves it
    state = git_state(repo)
    assert state is not None
    assert state["branch"] is None and state["commit"] == first


def test_repo_without_commits(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    porcelain.init(str(repo))
    state = git_state(repo)
    assert state is not None
    assert state["commit"] is None and state["branch"] == "master"
    assert state["dirty"] is False
    (repo / "new.txt").write_text("x")
    state = git_state(repo)
    assert state is not None and state["dirty"] is True
    assert describe(repo) is None


def test_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert git_state(tmp_path / "plain", search_parents=False) is None
    assert git_state(tmp_path / "missing", search_parents=False) is None
    assert describe(tmp_path / "plain", search_parents=False) is None


def test_tags_and_describe(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    first = make_repo(repo, {"a.py": "1\n"})
    porcelain.tag_create(str(repo), b"v1.0.0", annotated=True, message=b"release",
                         author=b"Test <test@example.com>")
    state = git_state(repo)
    assert state is not None and state["tag"] == "v1.0.0"
    assert describe(repo) == "v1.0.0"
    commit(repo, {"a.py": "2\n"})
    head = commit(repo, {"a.py": "3\n"})
    state = git_state(repo)
    assert state is not None and "tag" not in state
    assert describe(repo) == f"v1.0.0-2-g{head[:7]}"
    assert describe(repo, max_commits=1) == head[:7]
    porcelain.tag_create(str(repo), b"b-light", objectish=first.encode())
    porcelain.tag_create(str(repo), b"a-light", objectish=first.encode())
    detach(repo, first)
    (repo / "a.py").write_text("1\n")
    state = git_state(repo)
    assert state is not None
    assert state["tags"] == ["a-light", "b-light", "v1.0.0"]


def test_damaged_index_leaves_dirty_unknown(tmp_path: Path) -> None:
    sha = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    (tmp_path / "r" / ".git" / "index").write_bytes(b"DIRC\x00\x00\x00\x02garbage")
    state = git_state(tmp_path / "r")
    assert state is not None and state["commit"] == sha
    assert "dirty" not in state and state["dirty_check"] == "error"


def test_huge_folder_costs_only_the_walk_budget(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    make_repo(repo, {"a.py": "x = 1\n", ".gitignore": "*.bin\n"})
    big = repo / "big"
    big.mkdir()
    for i in range(300):
        (big / f"{i}.bin").write_bytes(b"")
    state = git_state(repo, max_walk=50)
    assert state is not None and state["dirty_check"] == "truncated"


def test_missing_index_with_commits_is_dirty(tmp_path: Path) -> None:
    make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    (tmp_path / "r" / ".git" / "index").unlink()
    state = git_state(tmp_path / "r")
    assert state is not None and state["dirty"] is True
