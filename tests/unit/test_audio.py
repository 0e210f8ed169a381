import io
import os
import wave

import av
import numpy as np
import pytest

from kg.errors import AudioError
from speech.audio import SAMPLE_RATE, AudioLimits, decode
from speech.formats import sniff
from tests.conftest import EVAL_DATA

pytestmark = pytest.mark.unit

QUESTIONS = EVAL_DATA / "speech_zh" / "questions"
UNSUPPORTED = "不支持的音频格式（支持 wav、mp3、m4a、webm、ogg、flac）"


def _wav(path, samples: np.ndarray, rate: int, channels: int = 1):
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.repeat(pcm, 2)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * 220 * t)


SAMPLE_FORMATS = {"libopus": "flt", "aac": "fltp", "flac": "s16"}


def _encode(path, muxer: str, codec: str, rate: int = 48_000):
    """One second of tone written by FFmpeg itself with ``muxer`` and ``codec``."""
    tone = (_tone(1.0, rate) * 0.5).astype(np.float32).reshape(1, -1)
    if SAMPLE_FORMATS[codec] == "s16":
        tone = (tone * 32767).astype(np.int16)
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=rate)
        frame = av.AudioFrame.from_ndarray(tone, format=SAMPLE_FORMATS[codec], layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


def test_any_rate_and_channel_count_becomes_16k_mono(tmp_path):
    path = _wav(tmp_path / "a.wav", _tone(1.0, 44_100), 44_100, channels=2)
    samples = decode(path)
    assert samples.dtype == np.float32
    assert abs(samples.size - SAMPLE_RATE) < 200


def test_silence_is_refused(tmp_path):
    with pytest.raises(AudioError, match="静音"):
        decode(_wav(tmp_path / "s.wav", np.zeros(SAMPLE_RATE), SAMPLE_RATE))


def test_a_corrupt_file_of_an_allowed_format_is_refused_without_ffmpeg_text():
    data = (QUESTIONS / "q02.m4a").read_bytes()[:2000]  # an mp4 cut short: no sample table
    with pytest.raises(AudioError, match="无法解码") as caught:
        decode(io.BytesIO(data))
    assert "Errno" not in str(caught.value) and "Invalid data" not in str(caught.value)
    assert "moov" not in str(caught.value)


def test_empty_too_long_and_too_large_are_refused(tmp_path):
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="为空"):
        decode(empty)
    long = _wav(tmp_path / "l.wav", _tone(3.0, SAMPLE_RATE), SAMPLE_RATE)
    with pytest.raises(AudioError, match="过长"):
        decode(long, AudioLimits(max_seconds=2.0))
    with pytest.raises(AudioError, match="过大"):
        decode(long, AudioLimits(max_bytes=1000))
    with pytest.raises(AudioError, match="过大"):
        decode(io.BytesIO(long.read_bytes()), AudioLimits(max_bytes=1000))


def test_file_objects_are_accepted(tmp_path):
    path = _wav(tmp_path / "a.wav", _tone(0.5, 8000), 8000)
    assert decode(io.BytesIO(path.read_bytes())).size > 0


@pytest.mark.parametrize(
    ("name", "demuxer"),
    [("q01.webm", "matroska"), ("q02.m4a", "mov"), ("q03.mp3", "mp3"), ("q01.wav", "wav")],
)
def test_formats_phones_and_browsers_send_are_sniffed_and_decoded(name, demuxer):
    data = (QUESTIONS / name).read_bytes()
    assert sniff(data) == demuxer
    samples = decode(QUESTIONS / name)
    assert 2.0 < samples.size / SAMPLE_RATE < 10.0


@pytest.mark.parametrize(
    ("muxer", "codec", "demuxer"),
    [("ogg", "libopus", "ogg"), ("flac", "flac", "flac"), ("adts", "aac", "aac")],
    ids=["ogg-opus", "flac", "adts-aac"],
)
def test_ogg_flac_and_adts_aac_are_sniffed_and_decoded(tmp_path, muxer, codec, demuxer):
    path = _encode(tmp_path / f"note.{muxer}", muxer, codec)
    assert sniff(path.read_bytes()) == demuxer
    assert abs(decode(path).size - SAMPLE_RATE) < 2000


def test_an_id3_tag_before_the_frames_is_skipped():
    mp3 = (QUESTIONS / "q03.mp3").read_bytes()
    assert mp3[:3] == b"ID3"
    assert sniff(mp3) == "mp3"
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"x" * 5
    flac = (b"fLaC" + b"\x00" * 60)[:64]
    assert sniff(tag + flac) == "flac"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
NOT_AUDIO = {
    "ffconcat": b"ffconcat version 1.0\nfile recordings/x.wav\n",
    "hls": b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nrecordings/x.wav\n#EXT-X-ENDLIST\n",
    "sdp": b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\n"
    b"m=audio 5004 RTP/AVP 0\n",
    "random": np.random.default_rng(0).bytes(4096),
    "png": PNG + bytes(200),
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200),
    "text": "这不是音频".encode() * 50,
}


@pytest.mark.parametrize("data", NOT_AUDIO.values(), ids=NOT_AUDIO.keys())
def test_what_is_not_an_allowed_container_is_not_sniffed_and_is_refused(data):
    assert sniff(data) is None
    with pytest.raises(AudioError) as caught:
        decode(io.BytesIO(data))
    assert UNSUPPORTED in str(caught.value)


def test_ffconcat_never_reads_the_servers_files_and_does_not_tell_whether_they_exist():
    existing = os.path.relpath(QUESTIONS / "q01.wav")
    assert os.path.isfile(existing)
    messages = []
    for path in (existing, "recordings/missing.wav", str(QUESTIONS / "q01.wav")):
        playlist = f"ffconcat version 1.0\nsafe 0\nfile {path}\n".encode()
        with pytest.raises(AudioError) as caught:
            decode(io.BytesIO(playlist))
        messages.append(str(caught.value))
    assert len(set(messages)) == 1 and UNSUPPORTED in messages[0]
    assert "/" not in messages[0] and "q01" not in messages[0]


def test_the_mov_options_we_rely_on_exist_in_this_ffmpeg():
    """enable_drefs/use_absolute_path are set explicitly; a typo would be silently ignored,
    while a bad value for a real option makes FFmpeg refuse."""
    from speech.audio import DEMUXER_OPTIONS

    assert DEMUXER_OPTIONS["mov"] == {"enable_drefs": "0", "use_absolute_path": "0"}
    data = (QUESTIONS / "q02.m4a").read_bytes()
    for option in DEMUXER_OPTIONS["mov"]:
        with pytest.raises(av.FFmpegError):
            av.open(io.BytesIO(data), format="mov", container_options={option: "not-a-bool"})


def test_no_demuxer_may_open_another_file():
    """Even a demuxer that references files (forced here on purpose) cannot open one."""
    from speech.audio import CONTAINER_OPTIONS

    playlist = f"ffconcat version 1.0\nfile {os.path.relpath(QUESTIONS / 'q01.wav')}\n".encode()
    with (
        pytest.raises(av.FFmpegError),
        av.open(io.BytesIO(playlist), format="concat", container_options=CONTAINER_OPTIONS) as c,
    ):
        list(c.decode(audio=0))


def test_decoding_has_a_wall_clock_budget(tmp_path):
    path = _wav(tmp_path / "a.wav", _tone(3.0, SAMPLE_RATE), SAMPLE_RATE)
    with pytest.raises(AudioError, match="解码超时"):
        decode(path, AudioLimits(decode_seconds=1e-9))
