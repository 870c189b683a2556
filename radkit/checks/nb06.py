"""Exercises for notebook 06_multilabel_and_unlabelled_data."""

from __future__ import annotations

import numpy as np

from radkit import evaluate, labels
from radkit.exercises import Exercise, close_to


def _effusion_share(share, films):
    train_labels = films.labels[films.splits["train"]][:, films.findings.index("Effusion")]
    expected = float(train_labels.mean())
    if np.isclose(share, train_labels.sum()):
        return "that is the number of films; the question asks for the share (a fraction from 0 to 1)."
    if np.isclose(share, 100 * expected):
        return "that is a percentage; write it as a fraction from 0 to 1 (12 % is 0.12)."
    if np.isclose(share, films.column("Effusion").mean()) and not np.isclose(share, expected):
        return "that is the share among ALL films; the question asks about the training films only."
    return close_to(share, expected, 1e-9, "the share of training films with an effusion")


def _nodule_width(width, nodule_labels, nodule_probs, n_boot):
    ci = evaluate.bootstrap_ci(nodule_labels, nodule_probs, metric="auc", n_boot=n_boot, seed=0)
    if np.isclose(width, ci["high"]):
        return "that is the top of the interval; the width is the top minus the bottom."
    return close_to(width, ci["high"] - ci["low"], 1e-9, "the width of the Nodule AUC interval")


def _spread_accuracy(accuracy, spread, hidden, truth):
    spread, hidden, truth = np.asarray(spread), np.asarray(hidden), np.asarray(truth)
    unknown = hidden == -1
    expected = float(np.mean(spread[unknown] == truth[unknown]))
    if not np.isclose(expected, np.mean(spread == truth)) and np.isclose(accuracy, np.mean(spread == truth)):
        return "that counts every film, including those whose labels were kept; count only the hidden ones."
    return close_to(accuracy, expected, 1e-9, "the accuracy on the hidden films")


def _report_only(count, expert, k):
    a = labels.agreement(expert["labels"][:, k], expert["report"][:, k])
    if count == a["only_first"] and a["only_first"] != a["only_second"]:
        return "that is the other way round: films the radiologists called positive and the report did not."
    return close_to(count, a["only_second"], 0, "the number of films")


q1 = Exercise(
    "q1", _effusion_share,
    hint="The training labels are films.part('train')[1]; the Effusion column is number "
         "films.findings.index('Effusion'); .mean() of a 0/1 column is the share of ones.",
    solution='train_labels = films.part("train")[1]\n'
             'effusion_share = train_labels[:, films.findings.index("Effusion")].mean()',
    wrong=('effusion_share = films.part("train")[1][:, films.findings.index("Effusion")].sum()',
           'effusion_share = films.column("Effusion").mean()'),
)
q2 = Exercise(
    "q2", _nodule_width,
    hint="evaluate.bootstrap_ci(labels, probabilities, metric='auc', n_boot=N_BOOT, seed=0) returns low and high; "
         "the width is high - low.",
    solution='nodule_ci = evaluate.bootstrap_ci(test_y[:, k], test_p[:, k], metric="auc", n_boot=N_BOOT, seed=0)\n'
             'nodule_width = nodule_ci["high"] - nodule_ci["low"]',
    wrong=('nodule_width = evaluate.bootstrap_ci(test_y[:, k], test_p[:, k], n_boot=N_BOOT, seed=0)["high"]',),
)
q3 = Exercise(
    "q3", _spread_accuracy,
    hint="The hidden films are where hidden == -1. Compare spread[hidden == -1] with train_y1[hidden == -1] "
         "and take the mean of the matches.",
    solution="unknown = hidden == -1\nspread_accuracy = (spread[unknown] == train_y1[unknown]).mean()",
    wrong=("spread_accuracy = (spread == train_y1).mean()",),
)
q4 = Exercise(
    "q4", _report_only,
    hint="labels.agreement(radiologists, report) returns counts: 'only_first' (radiologists only) and "
         "'only_second' (report only).",
    solution='a = labels.agreement(films.expert["labels"][:, k], films.expert["report"][:, k])\n'
             'report_only = a["only_second"]',
    wrong=('report_only = labels.agreement(films.expert["labels"][:, k], films.expert["report"][:, k])["only_first"]',),
)
