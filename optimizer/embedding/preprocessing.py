"""Pipeline and ColumnTransformer steps: scalers (affine), one-hot encoding of fixed categories, passthrough."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from optimizer.embedding.features import Feature

SUPPORTED_TRANSFORMERS = ("StandardScaler", "MinMaxScaler", "OneHotEncoder", "ColumnTransformer", "'passthrough'",
                          "'drop'")


def transform(step, feats: list[Feature]) -> list[Feature]:  # noqa: ANN001
    """Apply one fitted transformer to the features."""
    from optimizer.embedding.errors import UnsupportedEstimatorError

    if step == "passthrough" or step is None:
        return feats
    if isinstance(step, StandardScaler):
        mean = step.mean_ if step.with_mean else [0.0] * len(feats)
        scale = step.scale_ if step.with_std else [1.0] * len(feats)
        return [f.affine(1.0 / s, -m / s) for f, m, s in zip(feats, mean, scale, strict=True)]
    if isinstance(step, MinMaxScaler):
        return [f.affine(s, m) for f, s, m in zip(feats, step.scale_, step.min_, strict=True)]
    if isinstance(step, OneHotEncoder):
        return _one_hot(step, feats)
    if isinstance(step, ColumnTransformer):
        return _columns(step, feats)
    raise UnsupportedEstimatorError(f"{type(step).__name__} cannot be embedded; supported preprocessing: "
                                    f"{', '.join(SUPPORTED_TRANSFORMERS)}")


def _one_hot(enc: OneHotEncoder, feats: list[Feature]) -> list[Feature]:
    out = []
    for j, (f, cats) in enumerate(zip(feats, enc.categories_, strict=True)):
        if not f.fixed:
            raise ValueError(f"categorical input {f.name!r} must be fixed (the heat's known context); one-hot "
                             "encoding of a decision variable is not supported")
        if f.value not in list(cats) and enc.handle_unknown == "error":
            raise ValueError(f"category {f.value!r} of {f.name!r} was not seen in training: {list(cats)}")
        drop = None if enc.drop_idx_ is None else enc.drop_idx_[j]
        for i, c in enumerate(cats):
            if drop is not None and i == drop:
                continue
            out.append(Feature(f"{f.name}_{c}", value=1.0 if c == f.value else 0.0))
    return out


def _columns(ct: ColumnTransformer, feats: list[Feature]) -> list[Feature]:
    by_name = {f.name: i for i, f in enumerate(feats)}
    out: list[Feature] = []
    for _, trans, cols in ct.transformers_:
        if trans == "drop":
            continue
        idx = [by_name[c] for c in cols] if cols and isinstance(cols[0], str) else list(cols)
        out += transform(trans, [feats[i] for i in idx])
    return out
