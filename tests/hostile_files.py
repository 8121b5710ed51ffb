"""Builders of hostile files for test_hostile_files.py: zips written by hand (any
compression method, sizes that lie), bzip2 and deflate bombs made by repeating one
compressed block (so building a 512 MiB bomb takes a tenth of a second), gzip IDX
bombs."""

from __future__ import annotations

import bz2
import random
import struct
import zlib

MIB = 1 << 20


def zip_bytes(members: list[tuple[str, int, bytes, int, int]]) -> bytes:
    """A zip file of ``members``: (name, method number, compressed bytes, declared
    uncompressed size, declared crc32), written by hand so that anything may be
    declared."""
    local, central = b"", b""
    for name, method, data, size, crc in members:
        raw = name.encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc,
                               len(data), size, len(raw), 0, 0, 0, 0, 0, len(local)) + raw
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc,
                             len(data), size, len(raw), 0) + raw + data
    return local + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members),
                                         len(members), len(central), len(local), 0)


def stored(name: str, data: bytes) -> tuple[str, int, bytes, int, int]:
    """A member stored as it is, honestly declared."""
    return name, 0, data, len(data), zlib.crc32(data)


def bzip2_bomb(blocks: int = 128) -> bytes:
    """A bzip2 stream of ``blocks`` x 4 MiB of zeros (128: 512 MiB in about 4 KB): one
    compressed block repeated bit for bit, with the stream's combined CRC."""
    one = bz2.compress(bytes(4 * MIB), 9)
    bits, total = int.from_bytes(one, "big"), 8 * len(one)
    end_magic = 0x177245385090
    end = next(total - pad - 80 for pad in range(8)
               if (bits >> (pad + 32)) & (2**48 - 1) == end_magic)
    width = end - 32  # the block, after the 4-byte "BZh9" header
    block = (bits >> (total - end)) & ((1 << width) - 1)
    block_crc = (block >> (width - 80)) & 0xFFFFFFFF
    body, combined = 0, 0
    for _ in range(blocks):
        body = (body << width) | block
        combined = (((combined << 1) | (combined >> 31)) & 0xFFFFFFFF) ^ block_crc
    body = (body << 80) | (end_magic << 32) | combined
    length = blocks * width + 80
    pad = -length % 8
    return b"BZh9" + (body << pad).to_bytes((length + pad) // 8, "big")


def deflate_repeated(first: bytes, chunk: bytes, count: int) -> tuple[bytes, int, int]:
    """Raw deflate of ``first`` then ``count`` copies of ``chunk``, each compressed
    once and repeated (a full flush resets the compressor between them); returns the
    stream, the inflated size and its crc32."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(first) + co.flush(zlib.Z_FULL_FLUSH)
    again = co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    assert again == co.compress(chunk) + co.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(first)
    for _ in range(count):
        crc = zlib.crc32(chunk, crc)
    return head + again * count + co.flush(), len(first) + count * len(chunk), crc


def safetensors_head(size: int) -> bytes:
    """The first bytes of safetensors data of ``size`` bytes holding one float32 array
    named "0.kernel": the length, then a valid header padded with spaces."""
    values = (size - 8 - 128) // 4
    text = b'{"0.kernel":{"dtype":"F32","shape":[%d],"data_offsets":[0,%d]}}' % (
        values, 4 * values)
    text += b" " * (size - 8 - len(text) - 4 * values)
    return struct.pack("<Q", len(text)) + text


def deflate_bomb_within_ratio(mib: int = 256) -> tuple[bytes, int, int]:
    """``mib`` MiB of safetensors data (a valid header, then 8 KB of noise per MiB of
    zeros) that deflates about 128:1, inside the 200:1 ratio a zip-bomb guard allows."""
    noise = random.Random(0).randbytes(8192)
    chunk = noise + bytes(MIB - len(noise))
    head = safetensors_head(mib * MIB)
    return deflate_repeated(head + chunk[len(head):], chunk, mib - 1)


def gzip_idx_bomb(dims: tuple[int, ...], mib: int = 512) -> bytes:
    """A gzipped IDX file whose header declares ``dims`` and whose body inflates to
    ``mib`` MiB of zeros (some 500 KB on disk)."""
    header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    first = header + bytes(MIB - len(header))
    stream, size, crc = deflate_repeated(first, bytes(MIB), mib - 1)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + stream
            + struct.pack("<2L", crc, size & 0xFFFFFFFF))
