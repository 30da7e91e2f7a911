#!/usr/bin/env python3
"""Writes keyboard-reader.events: what a USB keyboard-emulating badge reader makes the
Linux kernel hand to a reader of its /dev/input/event* node, as 64-bit little-endian
struct input_event records (timeval: two 8-byte longs; type u16; code u16; value i32).

For every key the kernel's usbhid driver reports EV_MSC/MSC_SCAN (the HID usage), EV_KEY
(down), EV_SYN/SYN_REPORT, then the same for the key going up. Keys are 8 ms apart (a
full-speed HID keyboard's polling interval) and numbers a second apart.

Run from this directory: python3 make_keyboard_events.py
"""
import struct

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
MSC_SCAN = 4

# Linux key code and HID usage of each key typed.
ROW = {d: (11 if d == "0" else int(d) + 1, 0x70027 if d == "0" else 0x7001D + int(d))
       for d in "0123456789"}
PAD = {"0": (82, 0x70062), "1": (79, 0x70059), "2": (80, 0x7005A), "3": (81, 0x7005B),
       "4": (75, 0x7005C), "5": (76, 0x7005D), "6": (77, 0x7005E), "7": (71, 0x7005F),
       "8": (72, 0x70060), "9": (73, 0x70061)}
ENTER, KP_ENTER, KEY_A = (28, 0x70028), (96, 0x70058), (30, 0x70004)

# (keys, what they stand for)
NUMBERS = [
    ([ROW[d] for d in "3569102438"] + [ENTER], "a badge"),
    ([PAD[d] for d in "0012345678"] + [KP_ENTER], "a badge typed on the keypad"),
    ([ENTER], "Enter with no digits"),
    ([ROW["1"], ROW["2"], KEY_A, ROW["4"], ENTER], "a letter"),
    ([ROW[d] for d in "99999999999"] + [ENTER], "11 digits"),
    ([ROW[d] for d in "4294967296"] + [ENTER], "2^32"),
    ([ROW[d] for d in "0000000001"] + [ENTER], "a badge, leading zeros"),
]


def record(t_us, kind, code, value):
    return struct.pack("<qqHHi", t_us // 1_000_000, t_us % 1_000_000, kind, code, value)


def main():
    out = bytearray()
    t = 1_765_000_000 * 1_000_000
    for keys, _ in NUMBERS:
        for code, usage in keys:
            for value in (1, 0):
                out += record(t, EV_MSC, MSC_SCAN, usage)
                out += record(t, EV_KEY, code, value)
                out += record(t, EV_SYN, 0, 0)
                t += 4_000
        t += 1_000_000
    with open("keyboard-reader.events", "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
