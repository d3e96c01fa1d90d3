"""The child's side of the subprocess journal: what the supervisor would find at any point."""

import os
import struct
import threading

import pytest

from auroraview import _serve

HEADER = struct.Struct("<4Q")
# As the supervisor writes them into the header (runtime/src/supervisor/journal.rs).
SLOTS = 64
SLOT_SIZE = 64 << 10
DATA = _serve._PAGE + SLOTS * SLOT_SIZE


def slot_at(n):
    return _serve._PAGE + n * SLOT_SIZE


def journal(data_size):
    fd = os.memfd_create("journal-test")
    os.ftruncate(fd, DATA + data_size)
    os.pwrite(fd, struct.pack("<2Q", SLOTS, SLOT_SIZE), 4 * 8)
    reader, writer = os.pipe()
    return fd, _serve.Journal(os.dup(fd), reader), writer


def state(fd):
    handed, hi, base, writing = HEADER.unpack(os.pread(fd, HEADER.size, 0))
    size = os.fstat(fd).st_size - DATA
    data = os.pread(fd, size, DATA)
    return handed, hi, base, data


def unread(fd):
    handed, hi, base, data = state(fd)
    return data[handed - base : hi - base]


def assert_zero_past_hi(fd):
    handed, hi, base, data = state(fd)
    assert data[hi - base :].count(0) == len(data) - (hi - base)


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")
def test_lines_come_out_whole_through_compaction_and_growth():
    fd, j, writer = journal(4096)
    lines = [(b"%d:" % i) + b"x" * (i * 37 % 1500) + b"\n" for i in range(300)]
    lines.append(b"long:" + b"y" * 20000 + b"\n")  # more than the whole buffer: it grows
    lines += [b"after\n", b"tail-without-newline"]
    threading.Thread(target=lambda: (os.write(writer, b"".join(lines)), os.close(writer))).start()
    got = []
    while True:
        line = j.readline()
        if not line:
            break
        got.append(line)
        assert_zero_past_hi(fd)
        # A worker would answer this call; until then the slot holds it.
        j.answered()
    assert got == lines
    assert unread(fd) == b""
    assert os.fstat(fd).st_size > DATA + 20000


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")
def test_a_call_is_held_in_its_slot_until_answered_and_the_rest_is_unread():
    fd, j, writer = journal(1 << 16)
    os.write(writer, b'{"id":1,"method":"a"}\n{"id":2,"method":"b"}\n{"id":3')
    assert j.readline() == b'{"id":1,"method":"a"}\n'
    slot = slot_at(0)
    length, offset = struct.unpack("<2Q", os.pread(fd, 16, slot))
    assert os.pread(fd, length, slot + 16) == b'{"id":1,"method":"a"}\n'
    handed, hi, base, _ = state(fd)
    assert offset < handed  # started: the supervisor fails it if the child dies now
    assert unread(fd) == b'{"id":2,"method":"b"}\n{"id":3'
    j.answered()
    assert struct.unpack("<Q", os.pread(fd, 8, slot))[0] == 0


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")
def test_a_line_too_long_for_a_slot_is_held_as_its_id():
    fd, j, writer = journal(1 << 16)
    line = b'{"method":"a","params":["' + b"z" * 90000 + b'"],"id":"big"}\n'  # more than a pipe holds
    threading.Thread(target=os.write, args=(writer, line)).start()
    assert j.readline().endswith(b'"id":"big"}\n')
    slot = slot_at(0)
    length = struct.unpack("<Q", os.pread(fd, 8, slot))[0]
    assert os.pread(fd, length, slot + 16) == b'{"id":"big"}'


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="Linux only")
def test_the_slot_count_is_the_supervisors():
    def with_slots(slots, size=SLOT_SIZE):
        fd = os.memfd_create("journal-test")
        os.ftruncate(fd, _serve._PAGE + max(slots, 1) * size + 4096)
        os.pwrite(fd, struct.pack("<2Q", slots, size), 4 * 8)
        reader, _ = os.pipe()
        return _serve.Journal(os.dup(fd), reader)

    j = with_slots(3)
    assert j.slots == 3
    assert sorted(j._free) == [0, 1, 2]
    for bad in (0, _serve.MAX_WORKERS + 1):
        with pytest.raises(ValueError, match="slots"):
            with_slots(bad)
    assert with_slots(2, 4096)._room == 4096 - 16
    for bad in (0, 100, 4096 + 8):
        with pytest.raises(ValueError, match="bytes"):
            with_slots(2, bad)
