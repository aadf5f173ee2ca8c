import pytest

from plate_ocr.vocab import UNKNOWN_TOKEN, CTCVocab


def test_line_k_is_class_k_plus_2(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("京\nA\n1\n", encoding="utf-8")
    vocab = CTCVocab.from_file(path)
    assert vocab.encode("京A1") == [2, 3, 4]
    assert vocab.num_classes == 5


def test_greedy_decoding_collapses_repeats_and_keeps_blank_separated_ones():
    vocab = CTCVocab.from_chars("京A6")
    # 京 京 _ A 6 6 _ 6  -> 京A66
    assert vocab.decode_greedy([2, 2, 0, 3, 4, 4, 0, 4]) == "京A66"
    assert vocab.decode_greedy([0, 0, 0]) == ""


def test_ids_without_a_line_decode_to_a_visible_marker_instead_of_crashing():
    vocab = CTCVocab.from_chars("京")
    assert vocab.decode_greedy([2, 1, 0, 99]) == "京" + UNKNOWN_TOKEN + UNKNOWN_TOKEN


def test_strict_vocab_names_the_bad_line(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("京\nAB\n京\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2.*one character"):
        CTCVocab.from_file(path)
    lenient = CTCVocab.from_file(path, strict=False)
    assert lenient.token(3) == "AB" and lenient.encode("京") == [2]


def test_only_the_trailing_newline_is_stripped(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("京\n \n", encoding="utf-8")
    assert CTCVocab.from_file(path).tokens == ("京", " ")


def test_encode_names_unknown_character():
    with pytest.raises(ValueError, match="'Z' at 1"):
        CTCVocab.from_chars("京A").encode("京Z")


def test_round_trip(tmp_path):
    vocab = CTCVocab.from_chars("京沪A01")
    vocab.save(tmp_path / "v.txt")
    assert CTCVocab.from_file(tmp_path / "v.txt") == vocab
