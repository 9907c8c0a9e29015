"""Action-recognition datasets read from the data directory (never shipped with rnnkit).

Their licences are unknown, so rnnkit reads them where they are staged
(:func:`rnnkit.data.lm_corpus.data_dirs`: ``$RNNKIT_DATA``, else ``shared/data`` beside the
checkout) and raises :class:`~rnnkit.data.lm_corpus.TextDataUnavailableError` naming every place
looked when they are absent.

* ``msr-action3d`` (and ``-as1``, ``-as2``, ``-as3``): MSR Action3D skeletons (Li et al. 2010),
  20 joints × xyz per frame, made into per-frame features by
  :func:`rnnkit.data.skeleton.skeleton_features` centred on the hip centre (joint 7 of the
  dataset's order, index 6). The split is the standard cross-subject one: odd subjects train,
  even subjects test. The one sequence with no tracked frame (``a13_s09_e02``) is left out;
  all-zero frames inside the others are dropped as missing.
* ``msr-action3d-depth``: the same sequences as person-cropped depth video, 32×24 (H × W)
  frames, 0 = background; the same split (556 sequences have depth).
* ``weizmann4``: 36 RGB videos (32×32×3) of 4 actions by 9 people (a Weizmann subset). Its
  protocol is leave-one-subject-block-out (9 folds, ``group_column='subject_block'``); the fixed
  split marks blocks 6–8 as test so that a plain ``rnnkit train`` has one.

Every loader returns a :class:`~rnnkit.data.sequence_files.SequenceSet` whose ids are the
dataset's own (``a01_s01_e01``, ``v00``), with a ``frame`` of per-sequence facts (subject,
block) available through :func:`action_frame`.
"""

from __future__ import annotations

import numpy as np

from rnnkit.data.lm_corpus import find_data_file
from rnnkit.data.registry import DatasetInfo, register_dataset
from rnnkit.data.sequence_files import SequenceSet
from rnnkit.data.skeleton import read_skeletons, skeleton_set

#: MSR Action3D's hip-centre joint (0-based) in its own joint order.
MSR_HIP_CENTRE = 6
#: Li et al. 2010's action subsets (1-based action numbers).
ACTION_SETS = {
    "as1": (2, 3, 5, 6, 10, 13, 18, 20),
    "as2": (1, 4, 7, 8, 9, 11, 12, 14),
    "as3": (6, 14, 15, 16, 17, 18, 19, 20),
}
#: Subject blocks of weizmann4 in the fixed test split (the protocol itself is 9-fold).
WEIZMANN_TEST_BLOCKS = (6, 7, 8)
WEIZMANN_ACTIONS = ("bend", "jack", "wave1", "wave2")


def _msr_index():
    import pandas as pd

    return pd.read_csv(find_data_file("msr_action3d/index.csv"))


def _msr_parts(kind: str) -> list[tuple[np.ndarray, list[np.ndarray], str]]:
    """(sequence ids, per-sequence arrays, split) of the odd and even subject files."""
    out = []
    for parity, split in (("odd", "train"), ("even", "test")):
        name = (
            f"msr_action3d/skeleton_subjects_{parity}.npz"
            if kind == "skeleton"
            else f"msr_action3d/depth32x24_subjects_{parity}.npz"
        )
        with np.load(find_data_file(name), allow_pickle=False) as z:
            arrays = z["xyz"] if kind == "skeleton" else z["frames"]
            o = z["offsets"]
            seqs = [arrays[o[i] : o[i + 1]] for i in range(len(o) - 1)]
            out.append((z["seq"].astype(str), seqs, split))
    return out


def load_msr_action3d(subset: str | None = None, modality: str = "skeleton") -> SequenceSet:
    """MSR Action3D as skeleton features or depth frames, cross-subject split.

    Args:
        subset: None (all 20 actions) or 'as1', 'as2', 'as3'.
        modality: 'skeleton' ((T, 126) features) or 'depth' ((T, 32, 24) float32, 0..255).
    """
    index = _msr_index().set_index("seq")
    actions = set(ACTION_SETS[subset]) if subset else None
    seqs, ids, labels, split = [], [], [], []
    for names, arrays, part in _msr_parts(modality):
        for name, a in zip(names, arrays, strict=True):
            row = index.loc[name]
            if actions is not None and int(row["action"]) not in actions:
                continue
            if modality == "skeleton" and row["n_allzero_skeleton_frames"] == row["n_frames"]:
                continue  # no tracked frame at all (a13_s09_e02): nothing to classify
            seqs.append(a if modality == "skeleton" else a.astype(np.float32))
            ids.append(name)
            labels.append(str(row["action_name"]))
            split.append(part)
    labels_ = np.asarray(labels, dtype=object)
    split_ = np.asarray(split, dtype=object)
    if modality == "skeleton":
        return skeleton_set(seqs, labels_, ids, center_joint=MSR_HIP_CENTRE, split=split_)
    return SequenceSet(seqs, labels_, ids, None, split_)


def load_weizmann4() -> SequenceSet:
    """The 36 weizmann4 videos as (T, 32, 32, 3) float32 frames (0..255), fixed split by
    subject block (see :data:`WEIZMANN_TEST_BLOCKS`)."""
    seqs, ids, labels, blocks = [], [], [], []
    for part in ("weizmann4/frames32_part1.npz", "weizmann4/frames32_part2.npz"):
        with np.load(find_data_file(part), allow_pickle=False) as z:
            o = z["offsets"]
            for i in range(len(o) - 1):
                seqs.append(z["frames"][o[i] : o[i + 1]].astype(np.float32))
                ids.append(str(z["video"][i]))
                labels.append(WEIZMANN_ACTIONS[int(z["label"][i])])
                blocks.append(int(z["subject_block"][i]))
    split = np.where(np.isin(blocks, WEIZMANN_TEST_BLOCKS), "test", "train").astype(object)
    return SequenceSet(seqs, np.asarray(labels, dtype=object), ids, None, split)


def action_frame(name: str, ids: list[str]):
    """Per-sequence facts of an action dataset's ``ids``: subject (MSR Action3D) or
    subject_block (weizmann4), for grouped folds (``group_column``)."""
    import pandas as pd

    if name.startswith("msr-action3d"):
        index = _msr_index().set_index("seq")
        return pd.DataFrame({"subject": index.loc[ids, "subject"].to_numpy()})
    index = pd.read_csv(find_data_file("weizmann4/index.csv")).set_index("video")
    return pd.DataFrame({"subject_block": index.loc[ids, "subject_block"].to_numpy()})


#: What each action dataset's steps are: the ``format`` that fits it.
MODALITY = {
    "msr-action3d": "skeleton",
    **{f"msr-action3d-{s}": "skeleton" for s in ACTION_SETS},
    "msr-action3d-depth": "depth",
    "weizmann4": "video",
}


def modality_of(data: str, format: str | None) -> str | None:
    """'skeleton', 'video' or 'depth' when ``data`` (a bundled name or a file) read with
    ``format`` holds pose or image sequences, else None."""
    if format in ("skeleton", "video", "depth"):
        return format
    return MODALITY.get(data)


def action_data(name: str, loaded: SequenceSet, format: str | None):
    """The :class:`~rnnkit.data.classification_data.ClassificationData` of a bundled dataset
    read with ``format`` ('auto' or the dataset's own modality; anything else is refused), with
    its per-sequence facts (:func:`action_frame`) as columns for grouped folds."""
    from rnnkit.data.classification_data import sequence_data

    modality = MODALITY.get(name)
    if format not in (None, "auto", modality):
        fits = [n for n, m in MODALITY.items() if m == format]
        raise ValueError(
            f"format {format!r} does not fit the bundled dataset {name!r}, whose steps are "
            f"{modality or 'not images or poses'}; use format 'auto'"
            + (f", or a dataset of that kind: {fits}" if fits else "")
        )
    data = sequence_data(loaded)
    data.frame = pd_concat(data.frame, action_frame(name, loaded.ids))
    return data


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a.reset_index(drop=True), b.reset_index(drop=True)], axis=1)


def read_action_file(path, format: str, label_column: str | None, *, labelled: bool = True):
    """Labelled (or unlabelled) image or pose sequences of a user's file or folder:
    ``format`` 'skeleton' (a long CSV or NPZ, :func:`rnnkit.data.skeleton.read_skeletons`),
    'video' or 'depth' (a folder per class of videos, or one video:
    :func:`rnnkit.data.video.read_videos`)."""
    from rnnkit.data.classification_data import sequence_data

    if format == "skeleton":
        return sequence_data(read_skeletons(path, label_column=label_column, labelled=labelled))
    from rnnkit.data.video import read_videos

    return sequence_data(read_videos(path, grey=format == "depth", labelled=labelled))


_STAGED = "staged in the data directory ($RNNKIT_DATA or shared/data); licence unknown, not shipped"

DATASETS = [
    DatasetInfo(
        name="msr-action3d",
        task="classify",
        description="MSR Action3D skeletons (20 joints × xyz), 20 actions, cross-subject split",
        package="(data directory)",
        source="Li, Zhang, Liu 2010 (Microsoft Research); " + _STAGED,
        loader=load_msr_action3d,
        details={
            "folder": "msr_action3d",
            "size": "566 sequences (one with no tracked frame left out), 13–936 frames",
            "split": "cross-subject: subjects 1,3,5,7,9 train, 2,4,6,8,10 test",
            "returns": "SequenceSet of (T, 126) skeleton features (rnnkit.data.skeleton)",
        },
    ),
    *[
        DatasetInfo(
            name=f"msr-action3d-{s}",
            task="classify",
            description=f"MSR Action3D skeletons, action subset {s.upper()} (8 actions, Li et "
            "al. 2010), cross-subject split",
            package="(data directory)",
            source="Li, Zhang, Liu 2010 (Microsoft Research); " + _STAGED,
            loader=lambda s=s: load_msr_action3d(s),
            details={
                "folder": "msr_action3d",
                "actions": ", ".join(str(a) for a in ACTION_SETS[s]),
                "split": "cross-subject: odd subjects train, even subjects test",
                "returns": "SequenceSet of (T, 126) skeleton features",
            },
        )
        for s in ACTION_SETS
    ],
    DatasetInfo(
        name="msr-action3d-depth",
        task="classify",
        description="MSR Action3D person-cropped depth video, 32×24 frames, 20 actions",
        package="(data directory)",
        source="Li, Zhang, Liu 2010 (Microsoft Research); " + _STAGED,
        loader=lambda: load_msr_action3d(None, "depth"),
        details={
            "folder": "msr_action3d",
            "size": "556 sequences, 13–76 frames of 32×24 (0 = background)",
            "split": "cross-subject: odd subjects train, even subjects test",
            "returns": "SequenceSet of (T, 32, 24) frames",
        },
    ),
    DatasetInfo(
        name="weizmann4",
        task="classify",
        description="Weizmann actions, 4-class subset: 36 RGB videos (32×32), 9 people",
        package="(data directory)",
        source="Blank et al. 2005 / Gorelick et al. 2007, via MoCoGAN; " + _STAGED,
        loader=load_weizmann4,
        details={
            "folder": "weizmann4",
            "size": "36 videos, 51–146 frames of 32×32×3; bend, jack, wave1, wave2",
            "split": "fixed: subject blocks 6–8 test; protocol: leave one block out (9 folds)",
            "returns": "SequenceSet of (T, 32, 32, 3) frames",
        },
    ),
]

for _info in DATASETS:
    register_dataset(_info)
