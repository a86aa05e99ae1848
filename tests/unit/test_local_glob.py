"""local_glob: wildcards in any part of the path (the fileglob lookup globs file names only,
which missed Java under /usr/lib/jvm/java-17-openjdk-<arch>/bin/java)."""

from ansible_collections.edp.platform.plugins.filter.local_glob import local_glob


def test_a_wildcard_in_a_folder_name_matches_and_the_paths_are_sorted(tmp_path):
    for arch in ("arm64", "amd64"):
        (tmp_path / ("java-17-openjdk-" + arch) / "bin").mkdir(parents=True)
        (tmp_path / ("java-17-openjdk-" + arch) / "bin" / "java").write_text("")
    (tmp_path / "java-21-openjdk-amd64" / "bin").mkdir(parents=True)
    (tmp_path / "java-21-openjdk-amd64" / "bin" / "java").write_text("")
    assert local_glob(str(tmp_path / "java-17-openjdk-*" / "bin" / "java")) == [
        str(tmp_path / "java-17-openjdk-amd64" / "bin" / "java"),
        str(tmp_path / "java-17-openjdk-arm64" / "bin" / "java")]


def test_nothing_matching_is_an_empty_list(tmp_path):
    assert local_glob(str(tmp_path / "python3*" / "site-packages" / "pyspark" / "__init__.py")) == []
