#!/usr/bin/python3
"""Build blind4.jsonl from sources/batch*.py, check label consistency, print stats.
Row tuple: (lang, author, cat, flags, sev, text)
  cat: V valid case / P partial (AE-ish, criterion missing) / N names medicine, no AE
  flags: subset of 'rpdx' = reporter, patient, product (drug), reaction
  sev: subset of codes D death, L life_threatening, H hospitalisation, I disability,
       C congenital_anomaly, O other_medically_important
"""
import glob, importlib.util, json, random, re, sys, collections, os, unicodedata
def fold(x):
    return ''.join(c for c in unicodedata.normalize('NFKD', x.lower()) if not unicodedata.combining(c))
HERE = os.path.dirname(os.path.abspath(__file__))
SEV = {'D': 'death', 'L': 'life_threatening', 'H': 'hospitalisation', 'I': 'disability',
       'C': 'congenital_anomaly', 'O': 'other_medically_important'}
rows, names, errors = [], set(), []
for f in sorted(glob.glob(os.path.join(HERE, 'sources', 'batch*.py'))):
    spec = importlib.util.spec_from_file_location(os.path.basename(f)[:-3], f)
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    for i, r in enumerate(m.ROWS):
        rows.append((os.path.basename(f), i) + tuple(r))
    names.update(fold(n) for n in getattr(m, 'NAMES', []))
seen = set()
out = []
for (bf, i, lang, author, cat, flags, sev, text) in rows:
    where = f'{bf}#{i}: {text[:60]!r}'
    if lang not in ('en', 'fr'): errors.append(f'lang {where}')
    if cat not in 'VPN' or len(cat) != 1: errors.append(f'cat {where}')
    if set(flags) - set('rpdx'): errors.append(f'flags {where}')
    if set(sev) - set(SEV): errors.append(f'sev {where}')
    if author is not None and not re.match(r'^@\S+$', author): errors.append(f'author {where}')
    rep, pat, prod, reac = ('r' in flags), ('p' in flags), ('d' in flags), ('x' in flags)
    valid = rep and pat and prod and reac
    if author is not None and not rep: errors.append(f'author but reporter false {where}')
    if sev and not reac: errors.append(f'seriousness without reaction {where}')
    if (cat == 'V') != valid: errors.append(f'cat V <-> valid mismatch {where}')
    if cat == 'N' and reac: errors.append(f'non-AE with reaction {where}')
    key = text.strip().lower()
    if key in seen: errors.append(f'duplicate text {where}')
    seen.add(key)
    out.append({'text': text.strip(), 'author': author, 'lang': lang, '_cat': cat,
                'labels': {'reporter': rep, 'patient': pat, 'product': prod, 'reaction': reac,
                           'valid': valid, 'serious': bool(sev),
                           'seriousness': [SEV[c] for c in 'DLHICO' if c in sev]}})
random.Random(20261207).shuffle(out)
cats = []
with open(os.path.join(HERE, 'blind4.jsonl'), 'w', encoding='utf-8') as fh:
    for n, o in enumerate(out, 1):
        cats.append((o['lang'], o.pop('_cat')))
        rec = {'id': f'w4-{n:04d}', 'text': o['text'], 'author': o['author'], 'lang': o['lang'],
               'labels': o['labels']}
        fh.write(json.dumps(rec, ensure_ascii=False) + '\n')
# stats
print('rows', len(out))
for lang in ('en', 'fr', None):
    sub = [o for o in out if lang is None or o['lang'] == lang]
    tag = lang or 'all'
    c = collections.Counter()
    for o in sub:
        for k, v in o['labels'].items():
            if k != 'seriousness' and v: c[k] += 1
        for s in o['labels']['seriousness']: c['sev:' + s] += 1
        c['sev:valid&serious'] += o['labels']['valid'] and o['labels']['serious']
    print(f'[{tag}] n={len(sub)} ' + ' '.join(f'{k}={v}' for k, v in sorted(c.items())))
print('category (lang,cat):', dict(sorted(collections.Counter(cats).items())))
# product name spread
cnt = collections.Counter()
for o in out:
    for nm in names:
        if re.search(r'(?<![\w])' + re.escape(nm) + r'(?![\w])', fold(o['text'])): cnt[nm] += 1
over = {k: v for k, v in cnt.items() if v > 6}
print('distinct tracked names used:', len(cnt), ' over 6:', over)
if '-v' in sys.argv: print('top:', cnt.most_common(25))
if errors:
    print('ERRORS:'); print('\n'.join(errors)); sys.exit(1)
print('OK')
