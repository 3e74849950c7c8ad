"""iCalendar (RFC 5545) export of a meal plan: one all-day event per entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pantry_api import models


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines longer than 75 octets continue on lines that start with a space."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    while encoded:
        limit = 75 if not parts else 74
        cut = limit
        while cut > 0 and (encoded[cut : cut + 1] and (encoded[cut] & 0xC0) == 0x80):
            cut -= 1  # never split a UTF-8 sequence
        parts.append(encoded[:cut].decode())
        encoded = encoded[cut:]
    return "\r\n ".join(parts)


def plan_to_ics(plan: models.Plan) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Pantry//Meal plans//EN",
        "CALSCALE:GREGORIAN",
        f"X-WR-CALNAME:{_escape(plan.name)}",
    ]
    for day in plan.days:
        for entry in day.entries:
            details = f"{entry.servings} servings, {entry.total_minutes} minutes."
            lines += [
                "BEGIN:VEVENT",
                f"UID:{entry.id}@pantry",
                f"DTSTAMP:{stamp}",
                f"DTSTART;VALUE=DATE:{entry.date:%Y%m%d}",
                f"DTEND;VALUE=DATE:{entry.date + timedelta(days=1):%Y%m%d}",
                f"SUMMARY:{_escape(f'{entry.slot.capitalize()}: {entry.recipe_title}')}",
                f"DESCRIPTION:{_escape(f'{details} Recipe {entry.recipe_id}.')}",
                "END:VEVENT",
            ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
