"""Visibility, as in Bazel: who may depend on a target. `//visibility:public` (the
default), `//visibility:private` (its package only), `//pkg:__pkg__`,
`//pkg:__subpackages__`, or a label."""
from __future__ import annotations

from molt_build.errors import LabelError
from molt_build.labels import Label, parse_label

PUBLIC = "//visibility:public"
PRIVATE = "//visibility:private"


def is_visible(dep: Label, visibility: list[str] | None, user: Label) -> bool:
    """May `user` depend on `dep`, whose `visibility` attribute is given?"""
    vis = visibility or [PUBLIC]
    if dep.pkg == user.pkg or PUBLIC in vis:
        return True
    for v in vis:
        if v == PRIVATE:
            continue
        try:
            lab = parse_label(v, dep.pkg)
        except LabelError:
            continue
        if lab.name == "__pkg__" and lab.pkg == user.pkg:
            return True
        if lab.name == "__subpackages__" and (lab.pkg == "" or user.pkg == lab.pkg
                                              or user.pkg.startswith(lab.pkg + "/")):
            return True
        if lab == user:
            return True
    return False
