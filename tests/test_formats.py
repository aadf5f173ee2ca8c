import itertools

import numpy as np
import pytest
import torch

from plate_ocr.formats import CHARSET, DECODERS, PLATE_FORMATS, PlateFormats
from plate_ocr.model_dir import ModelDirError
from plate_ocr.reader import PlateReader
from plate_ocr.vocab import CTCVocab

from .support import REPO, config_copy, real_rows

VOCAB = CTCVocab.from_chars(CHARSET)


def log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)) - x.max(-1, keepdims=True)


def path_logits(steps: list[str], length: int = 40, peak: float = 12.0) -> np.ndarray:
    """(length, C) logits whose argmax path is ``steps`` ("" = blank), padded with blanks."""
    logits = np.zeros((length, VOCAB.num_classes))
    for t, char in enumerate(steps + [""] * (length - len(steps))):
        logits[t, VOCAB.encode(char)[0] if char else CTCVocab.BLANK_ID] = peak
    return logits


def spelt(text: str) -> list[str]:
    """One step per character with a blank after each, so repeats survive collapsing."""
    return [s for char in text for s in (char, "")]


def test_search_finds_the_best_valid_path_of_a_brute_force_enumeration():
    vocab = CTCVocab.from_chars("ABC")
    formats = PlateFormats(vocab, formats=[("AB", "C"), ("A", "AB", "B"), ("C",)])
    rng = np.random.default_rng(0)
    for _ in range(150):
        steps = int(rng.integers(1, 7))
        log_probs = log_softmax(rng.normal(size=(steps, vocab.num_classes)) * 2)
        best = None
        for path in itertools.product([0, 2, 3, 4], repeat=steps):  # every path but the reserved id
            text = vocab.decode_greedy(list(path))
            score = float(sum(log_probs[t, k] for t, k in enumerate(path)))
            if formats.matches(text) and (best is None or score > best[0]):
                best = (score, text)
        found = formats.search(log_probs)
        if best is None:  # e.g. "AAB" cannot fit in fewer than 4 steps
            assert found is None
        else:
            assert found is not None and found.text == best[1]
            assert found.log_prob == pytest.approx(best[0], abs=1e-9)


def test_a_valid_greedy_reading_is_kept_with_its_own_score():
    formats = PlateFormats(VOCAB)
    log_probs = log_softmax(path_logits(spelt("京A12345"), peak=3.0))
    reading = formats.decode(log_probs)
    assert reading.text == "京A12345"
    assert reading.log_prob == pytest.approx(float(log_probs.max(-1).sum()))
    assert formats.search(log_probs).text == "京A12345"  # the search agrees with the shortcut


def test_an_invalid_reading_becomes_the_nearest_valid_plate():
    logits = path_logits(spelt("京A1234"))
    logits[20, VOCAB.encode("5")[0]] = 11.0  # a faint 5 after the 4, just under the blank
    log_probs = log_softmax(logits)
    assert VOCAB.decode_greedy(log_probs.argmax(-1).tolist()) == "京A1234"  # 6 characters: no plate
    assert PlateFormats(VOCAB).decode(log_probs).text == "京A12345"


def test_no_valid_path_in_too_few_steps_gives_the_greedy_text_scored_minus_infinity():
    reading = PlateFormats(VOCAB).decode(log_softmax(path_logits(["京", "A"], length=4)))
    assert reading.text == "京A" and reading.log_prob == float("-inf")


def test_every_plate_type_and_every_real_label_is_a_valid_plate():
    formats = PlateFormats(VOCAB)
    for plate_type, sets in PLATE_FORMATS.items():
        assert formats.matches("".join(chars[0] for chars in sets)), plate_type
    assert not formats.matches("京A1234") and not formats.matches("京A123456") and not formats.matches("AA12345警")
    labels = [label for split in ("train", "dev") for _, label in real_rows(split)]
    assert labels and all(formats.matches(label) for label in labels)


def test_characters_missing_from_the_vocab_drop_out_of_the_formats():
    formats = PlateFormats(CTCVocab.from_chars("京A0123456789"))
    assert formats.matches("京A12345")
    assert not formats.matches("京B12345")  # B is not in the vocab
    assert not any("使" in "".join(sets) for sets in formats.formats)  # the embassy format is gone
    with pytest.raises(ValueError, match="no plate format"):
        PlateFormats(CTCVocab.from_chars("xyz"))


def test_plate_format_decoder_reads_the_candidate_whose_valid_path_scores_best(tiny_model_dir):
    # two candidates of one input: a confident reading that is no plate and needs a costly
    # extra character, and a less confident valid one
    invalid = path_logits(spelt("京A1234"))
    invalid[20, VOCAB.encode("5")[0]] = 4.0
    valid = path_logits(spelt("京B99999"), peak=6.0)
    logits = torch.from_numpy(np.stack([invalid, valid])).float()
    greedy = PlateReader.from_dir(tiny_model_dir, decoder="greedy")
    plate = PlateReader.from_dir(tiny_model_dir, decoder="plate-format")
    assert greedy.decode(greedy.pick(logits, [0, 0])) == ["京A1234"]
    assert plate.decode(plate.pick(logits, [0, 0])) == ["京B99999"]
    # apart, each is read for itself, the invalid one corrected
    assert plate.decode(plate.pick(logits, [0, 1])) == ["京A12345", "京B99999"]
    assert greedy.decode(logits) == ["京A1234", "京B99999"]


def test_model_directory_names_its_decoder_and_a_bad_one_is_refused(tiny_model_dir, tmp_path):
    assert PlateReader.from_dir(tiny_model_dir).decoder == "greedy"  # training outputs, converted DAMO dirs
    assert PlateReader.from_dir(REPO).decoder == "plate-format"  # the bundled model
    chosen = config_copy(tiny_model_dir, tmp_path / "chosen", "decoder", "plate-format")
    assert PlateReader.from_dir(chosen).formats is not None
    assert PlateReader.from_dir(chosen, decoder="greedy").formats is None
    bad = config_copy(tiny_model_dir, tmp_path / "bad", "decoder", "beam")
    with pytest.raises(ModelDirError, match=r"model\.decoder: expected one of greedy, plate-format, got 'beam'"):
        PlateReader.from_dir(bad)
    with pytest.raises(ValueError, match="decoder: expected one of"):
        PlateReader.from_dir(tiny_model_dir, decoder="Greedy")


def test_cli_decoder_choices_are_the_decoders_and_auto():
    from plate_ocr.cli import DECODER_CHOICES

    assert DECODER_CHOICES == ("auto",) + DECODERS
