"""Every library RASP program against its plain-Python reference, and where each one breaks."""
from __future__ import annotations

import itertools
import random

import pytest

from constructions.rasp_lib import LIBRARY, blog, get_entry, paper, tracr_lib as lib
from taotp import rasp
from taotp.rasp import Comparison, indices, key, query, tokens

EXHAUSTIVE = sorted(name for name in LIBRARY if name != "blog-add")


def domain(entry, max_len):
    for n in range(1, max_len + 1):
        for xs in itertools.product(entry.alphabet, repeat=n):
            if entry.precondition is None or entry.precondition(xs):
                yield list(xs)


def check_exhaustively(name, max_len):
    entry = LIBRARY[name]
    program = entry.make()
    checked = 0
    for xs in domain(entry, max_len):
        assert program(xs) == entry.reference(xs), xs
        checked += 1
    return checked


@pytest.mark.parametrize("name", EXHAUSTIVE)
def test_library_program_matches_reference_on_every_input_one_shorter(name):
    """The default run: every input up to one token shorter than the test domain's maximum."""
    assert check_exhaustively(name, LIBRARY[name].max_len - 1) >= 40  # not accidentally empty


@pytest.mark.slow
@pytest.mark.parametrize("name", EXHAUSTIVE)
def test_library_program_matches_reference_on_its_whole_small_domain(name):
    assert check_exhaustively(name, LIBRARY[name].max_len) >= 200


def add_inputs(count, seed=0):
    rng = random.Random(seed)
    nasty = ["0+0", "9+1", "99+1", "1+99", "999+1", "5+5", "49+51", "0+999", "123+0",
             "4999+5001", "9999+9999", "1+9999", "00+00"]
    out = list(nasty)
    while len(out) < count:
        a = str(rng.randrange(10 ** rng.randint(1, 4))).zfill(rng.randint(1, 4))
        b = str(rng.randrange(10 ** rng.randint(1, 4))).zfill(rng.randint(1, 4))
        out.append(f"{a}+{b}")
    return out


def test_blog_add_on_random_sums_and_carry_chains():
    entry, program = LIBRARY["blog-add"], LIBRARY["blog-add"].make()
    for text in add_inputs(300):
        assert program(list(text)) == entry.reference(list(text)), text


@pytest.mark.slow
def test_blog_add_exhaustive_up_to_two_digits_each():
    entry, program = LIBRARY["blog-add"], LIBRARY["blog-add"].make()
    numbers = [str(i) for i in range(10)] + [f"{i:02d}" for i in range(100)]
    for a, b in itertools.product(numbers, repeat=2):
        assert program(list(f"{a}+{b}")) == entry.reference(list(f"{a}+{b}")), (a, b)


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_edge_cases_length_one_all_equal_and_longest(name):
    entry = LIBRARY[name]
    program = entry.make()
    cases = [[a] * n for a in entry.alphabet for n in (1, entry.max_len + 2)]
    for xs in cases:
        if entry.precondition is None or entry.precondition(xs):
            assert program(xs) == entry.reference(xs), xs


# ---- tracr-style and RASPy-style spellings give the same program -------------------------

def test_spellings_agree():
    pairs = [
        (lib.make_length(), blog.length()),
        (lib.make_reverse(tokens), blog.flip()),
        (lib.make_hist(), blog.histogram()),
        (lib.make_hist(), paper.make_histogram()),
        (rasp.Aggregate(rasp.Select(indices, indices - 2, Comparison.EQ), tokens, default="_"),
         blog.shift(2)),
    ]
    for xs in itertools.chain.from_iterable(
            itertools.product("abc", repeat=n) for n in range(1, 6)):
        for tracr_style, raspy_style in pairs:
            assert tracr_style(list(xs)) == raspy_style(list(xs))


def test_selects_built_both_ways_are_the_same_node():
    for comparison, raspy in [(Comparison.EQ, key(tokens) == query(indices)),
                              (Comparison.LT, key(tokens) < query(indices)),
                              (Comparison.LEQ, key(tokens) <= query(indices)),
                              (Comparison.GT, key(tokens) > query(indices)),
                              (Comparison.GEQ, key(tokens) >= query(indices)),
                              (Comparison.NEQ, key(tokens) != query(indices))]:
        assert raspy.label == rasp.Select(tokens, indices, comparison).label


def test_blog_small_examples_against_plain_python():
    ex = blog.small_examples()
    assert ex["tokens==l"]("hello") == [c == "l" for c in "hello"]
    assert ex["tokens*2-1"]([1, 2, 3, 5, 2]) == [2 * x - 1 for x in [1, 2, 3, 5, 2]]
    assert ex["tokens-5+indices"]([1, 2, 3, 5, 2]) == [x - 5 + i for i, x in
                                                        enumerate([1, 2, 3, 5, 2])]
    assert ex["l_or_index1"]("hello") == [c == "l" or i == 1 for i, c in enumerate("hello")]
    assert ex["where_hl_q"]("hello") == [c if c in "hl" else "q" for c in "hello"]
    assert ex["atoi_plus2"]("02-13") == [int(c.replace("-", "0")) + 2 for c in "02-13"]
    xs = [3, 2, 3, 5]
    assert ex["cumsum_length_minus_indices"](xs) == [sum(len(xs) - j for j in range(i + 1))
                                                     for i in range(len(xs))]
    assert blog.atoi()("31234") == [3, 1, 2, 3, 4]


def test_layer_counts_match_the_rasp_paper_and_the_blog():
    assert rasp.layers(lib.make_reverse(tokens)).depth == 2
    assert rasp.layers(paper.make_histogram()).depth == 1
    assert rasp.layers(paper.make_sort(tokens, tokens)).depth == 2
    assert rasp.layers(paper.make_most_freq()).depth == 3
    assert rasp.layers(paper.make_dyck1()).depth == 2
    assert rasp.layers(blog.flip()).depth == 2
    assert rasp.layers(blog.minimum()).depth == 2
    assert rasp.layers(blog.cumsum(blog.length() - indices)).depth == 2
    assert rasp.layers(blog.split("+", True)).depth == 3  # the blog: "3 layers"
    assert rasp.layers(blog.split("+", False)).depth == 1  # "only 1 for the second"
    assert rasp.layers(blog.add()).depth == 6  # the blog: "The full system is 6 layers"


# ---- where the published programs are wrong (outside their preconditions) ----------------

def test_blog_ralign_moves_the_wrong_tokens_when_underscores_are_inside():
    assert blog.ralign()("x_y_") == ["-", "-", "x", "_"]  # the "y" is lost


def test_blog_index_out_of_range_gives_the_sum_default():
    assert blog.index(5)("abc") == [0, 0, 0]


def test_blog_first_answers_99_when_absent_and_is_wrong_from_index_99_on():
    assert blog.first("l")("abc") == [99, 99, 99]
    assert blog.first("l")(["h"] * 100 + ["l"])[0] == 99  # the true answer is 100


def test_blog_slide_with_nothing_to_the_right_gives_0():
    assert blog.slide(tokens != "<")("x<<") == ["x", 0, 0]


def test_blog_split_and_add_with_two_plus_signs_are_garbage():
    assert blog.split("+", False)("a+b+c") == ["0"] * 5
    assert blog.add()("1+2+3") == [0, 1, 5, 2, 5]  # ord("+") - ord("0") = -5 leaks in


def test_tracr_sort_unique_leaves_holes_on_repeated_keys():
    assert lib.make_sort_unique(tokens, tokens)([2, 2, 1]) == [1, 2.0, None]


def test_tracr_sort_beyond_max_seq_len_averages_values():
    program = lib.make_sort(tokens, tokens, max_seq_len=2, min_key=1)
    assert program([1, 0, 0]) == [0, 0.5, None]  # not [0, 0, 1]


def test_tracr_count_less_freq_counts_at_most_n_not_fewer():
    assert lib.make_count_less_freq(2)(["a", "a", "b"]) == [3, 3, 3]  # "fewer than 2": 1


def test_tracr_frac_prevs_and_shuffle_dyck_return_bools_where_tracr_documents_numbers():
    assert lib.make_frac_prevs(tokens == "l")("h")[0] is False  # documented as 0
    assert lib.make_shuffle_dyck2()("()")[0] is True  # documented as 1


def test_tracr_nary_sequencemap_splats_tuple_values():
    pairs = rasp.SequenceMap(lambda a, b: (a, b), tokens, indices)
    program = lib.make_nary_sequencemap(lambda p, x: (p, x), pairs, tokens)
    with pytest.raises(TypeError, match="position 0"):
        program("ab")  # ((a, 0), a) became (a, 0, a): three arguments for two


def test_unknown_program_lists_the_known_ones():
    with pytest.raises(ValueError, match="paper-sort"):
        get_entry("nope")
