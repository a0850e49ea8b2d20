import csv

import pytest

from lmkit.data import read_source, select_plays, shakespeare_plays
from lmkit.data.sources import parse_play, read_reddit_csv, read_shakespeare, read_text
from lmkit.errors import DataError

PLAY = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter three WITCHES, who
dance and sing_

**FIRST WITCH**  
When shall we three meet again?  
_\\[Aside]_  
In thunder, lightning, or in rain?

*Enter King Edward, Derby, and
Artois.*

**SECOND WITCH**  
When the hurlyburly's done.  
BISHOP

_Exeunt_
"""


def test_parse_play_keeps_spoken_lines_only():
    speeches = parse_play(PLAY)
    assert speeches == ["When shall we three meet again? In thunder, lightning, or in rain?",
                        "When the hurlyburly's done."]


def test_default_corpus_has_38_plays_in_six_genres():
    plays = shakespeare_plays()
    assert len(plays) == 38
    assert {p.genre for p in plays} == {"comedies", "histories", "problems", "roman", "romances", "tragedies"}


def test_subsets_select_one_play_a_genre_or_a_list():
    assert [p.name for p in select_plays("hamlet")] == ["hamlet"]
    tragedies = select_plays("tragedies")
    assert len(tragedies) == 6 and all(p.genre == "tragedies" for p in tragedies)
    both = select_plays("hamlet,roman")
    assert [p.name for p in both][0] == "hamlet" and len(both) == 5
    assert len(select_plays("all")) == 38


def test_unknown_subset_is_a_clear_error():
    with pytest.raises(DataError, match="no play or genre 'hamlett'"):
        select_plays("hamlett")


def test_hamlet_text_has_no_markup():
    speeches = read_shakespeare("hamlet")
    assert speeches[0] == "Who's there?"
    text = " ".join(speeches)
    assert "To be, or not to be" in text
    for mark in ("**", "_", "#", "\\[", "FRANCISCO", "A platform before the castle", "Exeunt"):
        assert mark not in text


def write_reddit_csv(path, rows, header=("body", "score")):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerows(rows)


def test_reddit_csv_quoted_newlines_and_entities(tmp_path):
    path = tmp_path / "reddit.csv"
    write_reddit_csv(path, [["First line.\nSecond line &gt; first.", "3"],
                            ["I &amp; you &lt;3", "1"], ["", "0"]])
    assert read_reddit_csv(path) == ["First line.\nSecond line > first.", "I & you <3"]
    assert read_source(str(path)) == read_reddit_csv(path)


def test_reddit_csv_column_by_position(tmp_path):
    path = tmp_path / "r.csv"
    write_reddit_csv(path, [["hello there", "x"]], header=("text", "other"))
    assert read_reddit_csv(path, column=0) == ["hello there"]


def test_reddit_csv_without_body_column(tmp_path):
    path = tmp_path / "r.csv"
    write_reddit_csv(path, [["hello", "1"]], header=("text", "score"))
    with pytest.raises(DataError, match="no 'body' column in the CSV header .found: text, score"):
        read_reddit_csv(path)


def test_empty_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError, match="empty CSV"):
        read_reddit_csv(path)


def test_text_file_and_folder(tmp_path):
    (tmp_path / "a.txt").write_text("One paragraph.\nStill one.\n\nTwo.\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "b.txt").write_text("Three.")
    (sub / "ignored.md").write_text("Not text.")
    assert read_text(tmp_path / "a.txt") == ["One paragraph.\nStill one.", "Two."]
    assert read_source(str(tmp_path)) == ["One paragraph.\nStill one.", "Two.", "Three."]


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        read_source(str(tmp_path / "nope.txt"))
    with pytest.raises(DataError, match="no such file"):
        read_reddit_csv(tmp_path / "nope.csv")


def test_undecodable_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 au lait".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.txt: not UTF-8 text \(undecodable byte at offset 3\)"):
        read_source(str(path))


def test_empty_corpus(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n\n   \n")
    with pytest.raises(DataError, match="corpus is empty"):
        read_source(str(path))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError, match="holds no .txt files"):
        read_source(str(tmp_path / "nothing"))
