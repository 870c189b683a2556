"""Figures for notebooks 06 and 10 on the shared NIH subset, as Markdown tables for the README.

    RADKIT_LOCAL_DATA=../shared/data python benchmarks/multilabel.py [--epochs 20] [--n-boot 1000] [--chestmnist]

Notebook 06: one small CNN for all 14 findings (64 px, NIH subset split by patient), per-finding test AUC
with 95 % bootstrap intervals for findings with at least 20 positive test films; then pneumonia with 10 % of
the training labels, with those labels spread to the other films (embeddings + LabelSpreading), and with all.
Notebook 10: notebook 02's classifier (radkit.models.course_classifier) at home (PneumoniaMNIST test) and on
the NIH adults and on its home films photographed from a screen (simulated); a view detector; and the model
card of a model trained on the NIH adults (its first lines are printed, the whole card is saved).
Same seeds and settings as the notebooks in full mode. With --chestmnist, notebook 06's optional ChestMNIST
step too (when chestmnist.npz is in RADKIT_LOCAL_DATA or the data folder: `radkit fetch chestmnist`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import radkit
from radkit import data, evaluate, labels, models, phantoms, report, train


def nb06(films, epochs: int, n_boot: int) -> None:
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (films.part(s) for s in ("train", "val", "test"))
    radkit.set_seed(0)
    multi = models.small_cnn((64, 64, 1), n_outputs=len(films.findings), multi_label=True)
    start = time.perf_counter()
    train.fit(multi, (train_x, train_y), (val_x, val_y), epochs=epochs, verbose=False)
    print(f"\n14-finding model trained in {time.perf_counter() - start:.0f} s\n")
    test_p = evaluate.predict_outputs(multi, test_x)
    rows = evaluate.per_finding(test_y, test_p, films.findings, min_positives=20, n_boot=n_boot)
    print("| finding | positive test films | AUC (95 % interval) |\n|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["positives"]):
        shown = evaluate.format_interval(r) if r["judged"] else "too few to judge"
        print(f"| {r['finding']} | {r['positives']} | {shown} |")

    k = films.findings.index("Pneumonia")
    hidden = labels.hide_labels(train_y[:, k], keep=0.1, seed=0)
    known = hidden != -1
    radkit.set_seed(0)
    few = models.small_cnn((64, 64, 1))
    train.fit(few, (train_x[known], train_y[known, k]), (val_x, val_y[:, k]), epochs=epochs, verbose=False)
    spread, _ = models.spread_labels(models.embeddings(few, train_x), hidden)
    radkit.set_seed(0)
    again = models.small_cnn((64, 64, 1))
    train.fit(again, (train_x, spread), (val_x, val_y[:, k]), epochs=epochs, verbose=False)
    print(f"\n| pneumonia, test AUC (95 % interval) | labels used |\n|---|---|")
    for name, p in ((f"{known.sum()} labelled films (10 %)", evaluate.predict_probabilities(few, test_x)),
                    ("the same + labels spread to the other films", evaluate.predict_probabilities(again, test_x)),
                    (f"all {len(hidden)} labels (14-finding model)", test_p[:, k])):
        print(f"| {evaluate.format_interval(evaluate.bootstrap_ci(test_y[:, k], p, n_boot=n_boot))} | {name} |")
    unknown = ~known
    print(f"\nspread labels right on {np.mean(spread[unknown] == train_y[unknown, k]):.1%} of the hidden films")


def chestmnist() -> None:
    """Notebook 06's ChestMNIST step in full mode: 20,000 training films, 3 epochs, 5,000 test films."""
    chest = labels.load_chestmnist(train=20000, val=5000, test=5000)
    if chest is None:
        return
    radkit.set_seed(0)
    model = models.small_cnn((28, 28, 1), n_outputs=len(chest.label_names), multi_label=True)
    start = time.perf_counter()
    train.fit(model, chest.train, chest.val, epochs=3, verbose=False)
    print(f"\nChestMNIST model trained in {time.perf_counter() - start:.0f} s\n")
    rows = evaluate.per_finding(chest.test[1], evaluate.predict_outputs(model, chest.test[0]), chest.label_names,
                                min_positives=20, n_boot=200)  # as the notebook: 200 draws
    print("| ChestMNIST finding | positive test films | AUC (95 % interval) |\n|---|---|---|")
    for r in sorted(rows, key=lambda r: -r["positives"]):
        print(f"| {r['finding']} | {r['positives']} | "
              f"{evaluate.format_interval(r) if r['judged'] else 'too few to judge'} |")


def nb10(films, epochs: int, n_boot: int) -> None:
    model = models.course_classifier(source="shipped")
    size = model.input_shape[1]
    home_x, home_y = data.load_pneumonia(size=size).test
    nih_y = films.column("Pneumonia")
    sets = [("PneumoniaMNIST test (children)", home_x, home_y),
            ("NIH adults (1,000 films)", data.resize_images(films.images, size), nih_y),
            ("PneumoniaMNIST test photographed from a screen (simulated)",
             phantoms.other_scanner(home_x, "screen_photo", seed=0), home_y)]
    print("\n| notebook 02's model on | AUC | sensitivity at 0.5 | specificity at 0.5 |\n|---|---|---|---|")
    for name, x, y in sets:
        rows = report.measure(name, y, evaluate.predict_probabilities(model, x), n_boot=n_boot)
        print(f"| {name} | " + " | ".join(report._interval(r) for r in rows) + " |")

    train_i, val_i, test_i = films.splits["train"], films.splits["val"], films.splits["test"]
    is_ap = (films.info["view"] == "AP").astype(int)
    radkit.set_seed(0)
    viewer = models.small_cnn((64, 64, 1))
    train.fit(viewer, (films.images[train_i], is_ap[train_i]), (films.images[val_i], is_ap[val_i]), epochs=epochs,
              verbose=False)
    view_auc = evaluate.bootstrap_ci(is_ap[test_i], evaluate.predict_probabilities(viewer, films.images[test_i]),
                                     n_boot=n_boot)
    print(f"\nAP or PA read from the film, test AUC {evaluate.format_interval(view_auc)}")

    radkit.set_seed(0)
    adult = models.small_cnn((64, 64, 1))
    train.fit(adult, (films.images[train_i], nih_y[train_i]), (films.images[val_i], nih_y[val_i]), epochs=epochs,
              verbose=False)
    adult_p = evaluate.predict_probabilities(adult, films.images[test_i])
    info = {key: values[test_i] for key, values in films.info.items()}
    age_band = np.where(info["age"] < 40, "0-39", np.where(info["age"] < 60, "40-59", "60+"))
    groups = evaluate.subgroups(nih_y[test_i], adult_p, {"sex": info["sex"], "age": age_band, "view": info["view"]},
                                n_boot=n_boot)
    card = report.model_card(
        "Pneumonia on adult frontal chest films (benchmark)", "Teaching.", ["Diagnosis."],
        "NIH ChestX-ray14 teaching subset, split by patient.",
        report.measure("NIH adults, test patients", nih_y[test_i], adult_p, n_boot=n_boot), subgroups=groups,
        shortcuts=[f"The view can be read from the film (AUC {evaluate.format_interval(view_auc)})."])
    path = card.save(radkit.data_dir() / "models" / "benchmark_adult_pneumonia.model_card.md")
    print(f"\nModel card saved as models/{path.name} in the data folder; its tables:\n")
    text = card.markdown
    print(text[text.index("## Performance"):text.index("## Known shortcuts")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs for notebook 06's models (10 uses 15)")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--chestmnist", action="store_true", help="also notebook 06's ChestMNIST step")
    args = parser.parse_args()
    radkit.setup(quiet=True)
    if args.chestmnist:
        chestmnist()
    films = labels.load_nih_subset(size=64, source="real")
    nb06(films, args.epochs, args.n_boot)
    nb10(films, max(1, args.epochs * 3 // 4), args.n_boot)


if __name__ == "__main__":
    main()
