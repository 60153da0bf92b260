"""Answering a subset of an offer's m-lines: the rest are rejected with port 0 (RFC 3264 §6).

aiortc answers every audio/video m-line of an offer it is given, and fails on some it cannot
serve (a video-only viewer of a stream with audio, a second video, a data channel). So aiortc
sees only the m-lines the sfu serves (:func:`offer_subset`), and :func:`answer_with_rejections`
puts the others back into its answer, at their offered positions, rejected: port 0, the
offered formats, ``a=mid``, ``a=inactive``, outside the BUNDLE group (RFC 8843 §7.3.3, RFC 8829
§5.3.1). Pure text functions over SDP: testable without a network.

Browsers and GStreamer stop a transceiver whose m-line is answered with port 0; aiortc as a
client ignores the port, so its peers must use max-bundle to share the one transport.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.rtcrtpparameters import RTCRtpCodecCapability

TRANSPORT_ATTRIBUTES = ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:")


@dataclass(frozen=True)
class MLine:
    """The sfu's decision on one m-line of an offer (``index``: its position in the offer)."""

    index: int
    kind: str
    mid: str | None
    accepted: bool
    reason: str = ""  # why it is rejected
    codecs: tuple[RTCRtpCodecCapability, ...] = ()  # preferences of an accepted m-line


@dataclass(frozen=True)
class Sdp:
    """An SDP text split into its session lines and one list of lines per m-section."""

    session: list[str]
    sections: list[list[str]]

    @classmethod
    def split(cls, text: str) -> Sdp:
        lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
        first = next((i for i, line in enumerate(lines) if line.startswith("m=")), len(lines))
        sections: list[list[str]] = []
        for line in lines[first:]:
            if line.startswith("m="):
                sections.append([])
            sections[-1].append(line)
        return cls(lines[:first], sections)

    def text(self) -> str:
        lines = self.session + [line for section in self.sections for line in section]
        return "\r\n".join(lines) + "\r\n"


def _with_bundle(session: list[str], mids: list[str]) -> list[str]:
    """Session lines with the BUNDLE group reduced to ``mids`` (dropped when none is left)."""
    kept = []
    for line in session:
        if line.startswith("a=group:BUNDLE"):
            if not mids:
                continue
            line = "a=group:BUNDLE " + " ".join(mids)
        kept.append(line)
    return kept


def offer_subset(offer_sdp: str, plan: list[MLine]) -> str:
    """The offer with only its accepted m-lines (and only their mids in the BUNDLE group)."""
    offer = Sdp.split(offer_sdp)
    accepted = [m for m in plan if m.accepted]
    mids = [m.mid for m in accepted if m.mid is not None]
    return Sdp(
        _with_bundle(offer.session, mids), [offer.sections[m.index] for m in accepted]
    ).text()


def _rejected_section(offered: list[str], mline: MLine, transport: list[str]) -> list[str]:
    """A rejected answer m-section: port 0 and the offered protocol and formats.

    The transport attributes of the accepted section and the offered rtpmap lines are kept
    because some clients (aiortc) validate every m-section for them; they cost nothing.
    """
    _, _, proto, *formats = offered[0].split(" ")
    lines = [f"m={mline.kind} 0 {proto} {' '.join(formats)}".rstrip(), "c=IN IP4 0.0.0.0"]
    lines += transport
    if mline.mid is not None:
        lines.append(f"a=mid:{mline.mid}")
    if mline.kind in ("audio", "video"):
        lines += ["a=inactive", "a=rtcp-mux"]
        lines += [line for line in offered if line.startswith("a=rtpmap:")]
    return lines


def answer_with_rejections(offer_sdp: str, answer_sdp: str, plan: list[MLine]) -> str:
    """aiortc's answer to :func:`offer_subset`, with every rejected m-line put back in place."""
    offer, answer = Sdp.split(offer_sdp), Sdp.split(answer_sdp)
    answered = iter(answer.sections)
    transport = [
        line
        for line in (answer.sections[0] if answer.sections else [])
        if line.startswith(TRANSPORT_ATTRIBUTES)
    ]
    sections = [
        next(answered) if m.accepted else _rejected_section(offer.sections[m.index], m, transport)
        for m in plan
    ]
    return Sdp(answer.session, sections).text()


def rejection_summary(plan: list[MLine]) -> str:
    """ "video (mid 0): reason; ..." for the rejected m-lines (error messages)."""
    return (
        "; ".join(f"{m.kind} (mid {m.mid}): {m.reason}" for m in plan if not m.accepted)
        or "no m-line"
    )
