"""Which FFmpeg demuxer may read an upload, decided from its first bytes (magic numbers).

Only self-contained audio/video containers are allowed. FFmpeg's own probing is never used on
user audio: it also picks formats that open other files or URLs (``concat``, ``hls``, ``sdp``,
``image2``, playlists), which turned an upload into a read of the server's files.
"""

from __future__ import annotations

# Demuxer name -> what the rep is told the format is called.
ALLOWED = {
    "wav": "wav",
    "mp3": "mp3",
    "aac": "aac",
    "mov": "m4a",  # mp4, m4a, mov, 3gp: FFmpeg's "mov,mp4,m4a,3gp,3g2,mj2" demuxer
    "matroska": "webm",  # webm and mkv: "matroska,webm"
    "ogg": "ogg",
    "flac": "flac",
}
SUPPORTED_NAMES = "wav、mp3、m4a、webm、ogg、flac"


def sniff(data: bytes) -> str | None:
    """The demuxer for ``data``, or None when it is not an allowed container.

    Looks at the first bytes only; an ID3v2 tag (mp3, sometimes ADTS AAC or FLAC) is skipped.
    """
    if data[:3] == b"ID3":
        body = data[_id3_size(data) :].lstrip(b"\x00")
        if body[:4] == b"fLaC":
            return "flac"
        return "aac" if _is_adts(body) else "mp3"
    if data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE":
        return "wav"
    if data[4:8] == b"ftyp":
        return "mov"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    if _is_adts(data):
        return "aac"
    if _is_mpeg_audio(data):
        return "mp3"
    return None


def _id3_size(data: bytes) -> int:
    """Length of a leading ID3v2 tag: 10-byte header, syncsafe size, optional footer."""
    if len(data) < 10:
        return len(data)
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _is_adts(data: bytes) -> bool:
    """ADTS AAC frame header: 12-bit sync, layer 00, a valid sampling-rate index."""
    return (
        len(data) >= 7 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0 and (data[2] >> 2) & 0x0F < 13
    )


def _is_mpeg_audio(data: bytes) -> bool:
    """MPEG-1/2/2.5 layer I-III frame header with no reserved field values."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version = (data[1] >> 3) & 0x03
    layer = (data[1] >> 1) & 0x03
    bitrate = data[2] >> 4
    rate = (data[2] >> 2) & 0x03
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3
