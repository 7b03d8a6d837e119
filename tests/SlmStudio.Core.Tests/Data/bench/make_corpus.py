#!/usr/bin/env python3
"""Writes a seeded ~50 MB corpus of mixed documents (TXT, MD, CSV, JSONL, HTML, PDF, DOCX) for timing `slm prepare`.

Usage: python3 make_corpus.py <out folder> [megabytes]
PDFs are written by hand (uncompressed text pages, Helvetica); DOCX files are minimal WordprocessingML zips.
About 1 paragraph in 40 holds an e-mail address, phone number or IBAN, and about 1 in 20 repeats an earlier one.
"""
import os, random, sys, zipfile, json, html

out = sys.argv[1]
target_mb = float(sys.argv[2]) if len(sys.argv) > 2 else 50
rng = random.Random(42)
words = [w.strip() for w in """the bank customer account payment card transfer policy employee leave salary contract
clause party agreement notice period termination support ticket refund delivery order invoice product service
quality risk compliance audit report quarter revenue cost margin growth market client request answer question
branch manager team office holiday sick training review meeting decision approval process system access password
security data privacy consent record retention archive document signature date amount currency interest rate loan
mortgage deposit savings credit debit balance statement fee charge limit fraud alert dispute claim insurance""".split()]
seen = []

def iban_de():
    bban = ''.join(rng.choice('0123456789') for _ in range(18))
    num = int(bban + '131400')  # D=13 E=14 + 00
    return 'DE%02d%s' % (98 - num % 97, bban)

def paragraph():
    if seen and rng.random() < 0.05:
        return rng.choice(seen)
    sentences = []
    for _ in range(rng.randint(2, 6)):
        s = ' '.join(rng.choice(words) for _ in range(rng.randint(8, 20)))
        sentences.append(s[0].upper() + s[1:] + '.')
    r = rng.random()
    if r < 0.01: sentences.append('Contact %s.%s@example.com for details.' % (rng.choice(words), rng.choice(words)))
    elif r < 0.02: sentences.append('Call +49 30 %08d.' % rng.randint(0, 99999999))
    elif r < 0.025: sentences.append('Pay to %s.' % iban_de())
    p = ' '.join(sentences)
    if len(seen) < 5000: seen.append(p)
    return p

def text_of(nbytes):
    parts, size = [], 0
    while size < nbytes:
        p = paragraph(); parts.append(p); size += len(p) + 2
    return parts

def pdf(paragraphs, path):
    lines = []
    for p in paragraphs:
        ws, line = p.split(), ''
        for w in ws:
            if len(line) + len(w) > 90: lines.append(line); line = ''
            line += (' ' if line else '') + w
        lines.append(line); lines.append('')
    pages = [lines[i:i + 50] for i in range(0, len(lines), 50)]
    objs = ['<< /Type /Catalog /Pages 2 0 R >>', None, '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>']
    kids = []
    for page in pages:
        ops = ['BT /F1 10 Tf 12 TL 50 780 Td']
        for l in page:
            ops.append('(%s) Tj T*' % l.replace('\\', '\\\\').replace('(', '\\(').replace(')', '\\)'))
        ops.append('ET')
        content = '\n'.join(ops).encode('latin-1')
        objs.append('<< /Length %d >>\nstream\n%s\nendstream' % (len(content), content.decode('latin-1')))
        objs.append('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>' % len(objs))
        kids.append('%d 0 R' % len(objs))
    objs[1] = '<< /Type /Pages /Kids [%s] /Count %d >>' % (' '.join(kids), len(kids))
    data = bytearray(b'%PDF-1.4\n'); offs = []
    for i, o in enumerate(objs):
        offs.append(len(data)); data += ('%d 0 obj\n%s\nendobj\n' % (i + 1, o)).encode('latin-1')
    x = len(data)
    data += ('xref\n0 %d\n0000000000 65535 f \n' % (len(objs) + 1)).encode()
    for o in offs: data += ('%010d 00000 n \n' % o).encode()
    data += ('trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % (len(objs) + 1, x)).encode()
    open(path, 'wb').write(data)

def docx(paragraphs, path):
    body = ''.join('<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>' % html.escape(p) for p in paragraphs)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('[Content_Types].xml', '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr('_rels/.rels', '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        z.writestr('word/document.xml', '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>%s</w:body></w:document>' % body)

os.makedirs(out, exist_ok=True)
mb = 1024 * 1024
scale = target_mb / 50
for i in range(int(20 * scale)):
    open(os.path.join(out, 'notes%02d.txt' % i), 'w').write('\n\n'.join(text_of(mb)) + '\n')
for i in range(int(5 * scale)):
    open(os.path.join(out, 'guide%02d.md' % i), 'w').write('# Guide %d\n\n' % i + '\n\n'.join(text_of(mb)) + '\n')
for i in range(int(5 * scale)):
    with open(os.path.join(out, 'tickets%02d.csv' % i), 'w') as f:
        f.write('id,created,text,category\n')
        for n, p in enumerate(text_of(2 * mb)):
            f.write('%d,2024-%02d-%02d,"%s",%s\n' % (n, rng.randint(1, 12), rng.randint(1, 28), p.replace('"', '""'), rng.choice(['billing', 'tech', 'cards'])))
for i in range(int(3 * scale)):
    with open(os.path.join(out, 'qa%02d.jsonl' % i), 'w') as f:
        for p in text_of(2 * mb): f.write(json.dumps({'text': p}) + '\n')
for i in range(int(4 * scale)):
    open(os.path.join(out, 'page%02d.html' % i), 'w').write('<html><head><style>p{}</style></head><body>' + ''.join('<p>%s</p><script>x()</script>' % html.escape(p) for p in text_of(mb)) + '</body></html>')
for i in range(int(10 * scale)):
    pdf(text_of(300 * 1024), os.path.join(out, 'report%02d.pdf' % i))
for i in range(int(10 * scale)):
    docx(text_of(1000 * 1024), os.path.join(out, 'letter%02d.docx' % i))
total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
print('%d files, %.1f MB' % (len(os.listdir(out)), total / mb))
