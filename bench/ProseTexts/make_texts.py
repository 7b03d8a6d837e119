#!/usr/bin/env python3
"""Writes the four 1 MB English texts that the "better models per CPU minute" figures (#15) are measured on.

All four come from Debian packages, so anyone can rebuild them byte for byte without a download:

    apt-get install -y fortunes fortunes-min jargon-text debian-handbook bible-kjv
    python3 bench/ProseTexts/make_texts.py --out bench/data

fortunes-1mb.txt  quotations, jokes and verse (`fortunes`): the hardest of the four, and the one every stop since the
                  first speed work has been measured on
jargon-1mb.txt    the Jargon File's entries (`jargon-text`): a glossary written as ordinary prose
handbook.txt      the paragraphs of The Debian Administrator's Handbook (`debian-handbook`, English HTML, code
                  listings and tables left out): modern technical prose, the closest to a company's documents; the
                  whole book is 943 KB of such paragraphs
kjv-1mb.txt       the King James Bible from Genesis on (`bible-kjv`), a chapter a paragraph: old, very regular prose
"""
import argparse, glob, gzip, html.parser, os, re, subprocess

LIMIT = 1_000_000


def fortunes():
    root = '/usr/share/games/fortunes'
    parts = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if '.' in name or name in ('art', 'ascii-art') or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding='utf-8', errors='replace') as f:
            parts.append(''.join(line for line in f if line.strip() != '%'))
    return ''.join(parts)


def jargon():
    with gzip.open('/usr/share/doc/jargon-text/jargon.txt.gz', 'rt', encoding='utf-8', errors='replace') as f:
        text = f.read()
    text = text[text.index(':(TM):'):]
    text = '\n'.join(line.strip() for line in text.split('\n'))
    return re.sub(r'\n{3,}', '\n\n', text)


class HandbookParagraphs(html.parser.HTMLParser):
    """The text of each <div class="para"> outside code listings and tables."""

    def __init__(self):
        super().__init__()
        self.divs, self.buffer, self.skip, self.paragraphs = [], None, 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ('pre', 'script', 'style', 'table'):
            self.skip += 1
        if tag == 'div':
            opens = dict(attrs).get('class') == 'para' and self.buffer is None
            self.divs.append(opens)
            if opens:
                self.buffer = []

    def handle_endtag(self, tag):
        if tag in ('pre', 'script', 'style', 'table'):
            self.skip -= 1
        if tag == 'div' and self.divs and self.divs.pop():
            text = re.sub(r'\s+', ' ', ''.join(self.buffer)).strip()
            self.buffer = None
            if len(text) > 60:  # headings of notes and captions are not prose
                self.paragraphs.append(text)

    def handle_data(self, data):
        if self.buffer is not None and not self.skip:
            self.buffer.append(data)


def handbook():
    paragraphs = []
    for path in sorted(glob.glob('/usr/share/doc/debian-handbook/html/en-US/*.html')):
        parser = HandbookParagraphs()
        with open(path, encoding='utf-8') as f:
            parser.feed(f.read())
        paragraphs += parser.paragraphs
    return '\n\n'.join(paragraphs)


def kjv():
    raw = subprocess.run(['bible', 'gen1:1-rev22:21'], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=True).stdout
    chapters, verses = [], []
    for line in raw.split('\n'):
        if re.match(r'^\S.* \d+$', line):  # a chapter's heading, such as "Genesis 1"
            if verses:
                chapters.append(' '.join(verses))
            verses = []
        elif line.strip():
            verses.append(re.sub(r'^\d+ ', '', line.strip()))
    if verses:
        chapters.append(' '.join(verses))
    return '\n\n'.join(re.sub(r'\s+', ' ', c) for c in chapters)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='bench/data')
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, make in (('fortunes-1mb.txt', fortunes), ('jargon-1mb.txt', jargon), ('handbook.txt', handbook), ('kjv-1mb.txt', kjv)):
        text = make()[:LIMIT]
        with open(os.path.join(args.out, name), 'w', encoding='utf-8') as f:
            f.write(text)
        print(f'{name}: {len(text):,} characters')


if __name__ == '__main__':
    main()
