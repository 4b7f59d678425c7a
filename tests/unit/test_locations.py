import tarfile
from pathlib import Path

import pytest

from serving.errors import BadRequest, NotFound
from serving.models.locations import ModelLocations, archives_in, check_name


@pytest.fixture
def tree(tmp_path: Path) -> tuple[ModelLocations, Path]:
    models = tmp_path / "models"
    (models / "alpha" / "model").mkdir(parents=True)
    (models / "alpha" / "model" / "model.joblib").write_bytes(b"x")
    (models / "flat").mkdir()
    (models / "flat" / "model.pkl").write_bytes(b"x")
    source = tmp_path / "src"
    source.mkdir()
    (source / "model.joblib").write_bytes(b"archived")
    with tarfile.open(models / "Chicago_IL.tar.gz", "w:gz") as tar:
        tar.add(source / "model.joblib", arcname="model.joblib")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "model.joblib").write_bytes(b"not yours")
    (models / "escape").symlink_to(secret)
    return ModelLocations([models], tmp_path / "unpacked"), models


def test_mme_layout_resolves_to_the_model_dir(tree) -> None:
    store, models = tree
    assert store.resolve_url(str(models / "alpha" / "model")) == models / "alpha" / "model"
    assert store.resolve_target("alpha") == models / "alpha" / "model"
    assert store.resolve_target("flat") == models / "flat"


def test_archive_is_unpacked_once(tree) -> None:
    store, _ = tree
    first = store.resolve_target("Chicago_IL.tar.gz")
    assert (first / "model.joblib").read_bytes() == b"archived"
    assert store.resolve_target("Chicago_IL.tar.gz") == first


@pytest.mark.parametrize(
    "name", ["../secret", "/etc/passwd", "..%2Fsecret", "a/../../secret", "x" * 1025, ""]
)
def test_unsafe_target_names_are_refused(tree, name: str) -> None:
    store, _ = tree
    with pytest.raises(BadRequest):
        store.resolve_target(name)


def test_symlink_out_of_the_root_is_refused(tree) -> None:
    store, models = tree
    with pytest.raises(BadRequest) as err:
        store.resolve_target("escape")
    assert "outside" in err.value.message
    # A load url is refused as multi-model-server refuses one it cannot serve: 404.
    with pytest.raises(NotFound):
        store.resolve_url(str(models / "escape"))


def test_unknown_target_and_url_are_404(tree) -> None:
    store, models = tree
    with pytest.raises(NotFound):
        store.resolve_target("nowhere.tar.gz")
    with pytest.raises(NotFound):
        store.resolve_url(str(models / "nowhere"))


def test_url_outside_the_roots_is_refused_as_not_found(tree, tmp_path: Path) -> None:
    store, models = tree
    with pytest.raises(NotFound) as err:
        store.resolve_url(str(tmp_path / "secret"))
    assert "outside the model directories" in err.value.message
    with pytest.raises(NotFound) as err:
        store.resolve_url(f"{models}/../secret")
    assert err.value.message.startswith("Relative path is not allowed in url")


def test_missing_url_is_worded_as_multi_model_server_words_it(tree) -> None:
    store, models = tree
    with pytest.raises(NotFound) as err:
        store.resolve_url(f"{models}/nowhere")
    assert err.value.message == f"Model not found in model store: {models}/nowhere"


def test_archive_with_traversal_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    evil = tmp_path / "evil.txt"
    evil.write_text("x")
    with tarfile.open(models / "evil.tar.gz", "w:gz") as tar:
        tar.add(evil, arcname="../../evil.txt")
    with pytest.raises(BadRequest) as err:
        ModelLocations([models], tmp_path / "unpacked").resolve_target("evil.tar.gz")
    assert "unsafe path" in err.value.message
    assert not (tmp_path / "evil.txt.copy").exists()


def test_check_name_decodes() -> None:
    assert check_name("a%20b.tar.gz", "target") == "a b.tar.gz"


def test_archives_in(tree) -> None:
    _, models = tree
    assert archives_in(models) == ["Chicago_IL.tar.gz"]
    assert archives_in(models / "flat") == []
