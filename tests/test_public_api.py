"""The curated public API stays what __all__ says."""

import sitewatch


def test_all_names_resolve() -> None:
    for name in sitewatch.__all__:
        assert hasattr(sitewatch, name), name


def test_all_is_sorted_and_unique() -> None:
    names = [n for n in sitewatch.__all__ if not n.startswith("_")]
    assert len(names) == len(set(names))
    assert sorted(names, key=str.lower) == sorted(names, key=str.lower)


def test_error_hierarchy() -> None:
    assert issubclass(sitewatch.InputError, ValueError)
    assert issubclass(sitewatch.NotFoundError, LookupError)
    assert issubclass(sitewatch.ImageryReadError, OSError)
    assert issubclass(sitewatch.NoOverlapError, sitewatch.InputError)
    assert issubclass(sitewatch.MissingDependencyError, ImportError)
