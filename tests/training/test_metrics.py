import pytest

from plate_ocr.training.metrics import Report, confusions, edit_distance, format_summary


@pytest.mark.parametrize("a, b, d", [("", "", 0), ("京A12345", "京A12345", 0), ("京A1234", "京A12345", 1),
                                     ("苏A6D08", "苏A66D08", 1), ("皖A12345", "浙A12345", 1), ("abc", "", 3),
                                     ("kitten", "sitting", 3)])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_report_on_hand_made_cases():
    report = Report().extend([
        ("京A12345", "京A12345", "standard"),   # right
        ("浙A12345", "皖A12345", "standard"),   # province wrong only
        ("苏A6D08", "苏A66D08", "standard"),    # doubled character collapsed
        ("京AD12345", "京AD12345", "new_energy"),
    ])
    s = report.summary()
    assert s["count"] == 4
    assert s["exact_match"] == 0.5
    assert s["exact_match_no_province"] == 0.75
    # 2 edits over 7 + 7 + 7 + 8 = 29 label characters
    assert s["char_accuracy"] == pytest.approx(1 - 2 / 29)
    assert s["by_type"]["new_energy"]["exact_match"] == 1.0
    assert s["by_type"]["standard"]["exact_match"] == pytest.approx(1 / 3)
    assert {"label": "皖", "pred": "浙", "count": 1} in s["top_confusions"]
    assert {"label": "len7", "pred": "len6", "count": 1} in s["top_confusions"] or \
        {"label": "len8", "pred": "len7", "count": 1} in s["top_confusions"]
    text = format_summary(s)
    assert "exact 50.00%" in text and "皖 -> 浙" in text


def test_character_accuracy_never_negative():
    s = Report().extend([("京A1234567890", "京", "")]).summary()
    assert s["char_accuracy"] == 0.0


def test_confusions_pairs_substitutions():
    assert confusions("京A1Z345", "京A12345") == [("2", "Z")]
