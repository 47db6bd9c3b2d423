/* Rebuild an OpenAlex abstract from the JSON text of its `abstract_inverted_index`.
 *
 * OpenAlex gives abstracts as {"word": [positions], ...}. Decoding that object into Python
 * (one str and one list per distinct word) and putting every word back in place costs more
 * than the rest of a work record together, so `abstract_from_json` reads the JSON bytes here
 * and builds the text in one pass.
 *
 * It handles the plain case only: an object whose keys are non-empty strings without escapes,
 * each with a list of non-negative integers, together covering the positions 0..n-1 exactly
 * once, with no key twice. For anything else (escapes, gaps, repeats, negative or non-integer
 * positions, other JSON values, invalid text) it returns None and the caller decodes the value
 * in full and rebuilds it in Python (`matcher.sources.openalex_records.abstract_text`), which
 * decides every such case; where this function answers, the answer is the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_ssize_t start; /* offset of the word's first byte in the input */
    Py_ssize_t length;
} Span;

typedef struct {
    Span *items;
    Py_ssize_t count, capacity;
} Spans;

static int spans_push(Spans *spans, Py_ssize_t start, Py_ssize_t length) {
    if (spans->count == spans->capacity) {
        Py_ssize_t capacity = spans->capacity ? 2 * spans->capacity : 256;
        Span *items = PyMem_Realloc(spans->items, capacity * sizeof(Span));
        if (items == NULL) return -1;
        spans->items = items;
        spans->capacity = capacity;
    }
    spans->items[spans->count].start = start;
    spans->items[spans->count].length = length;
    spans->count++;
    return 0;
}

static Py_ssize_t skip_space(const char *s, Py_ssize_t i, Py_ssize_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* A hash of a word, eight bytes at a time, mixed by MurmurHash3's finaliser. */
static uint64_t word_hash(const unsigned char *word, Py_ssize_t length) {
    uint64_t hash = (uint64_t)length * 0x9E3779B97F4A7C15ULL;
    Py_ssize_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t chunk;
        memcpy(&chunk, word + i, 8);
        hash = (hash ^ chunk) * 0xFF51AFD7ED558CCDULL;
        hash ^= hash >> 32;
    }
    uint64_t tail = 0;
    for (Py_ssize_t j = 0; i + j < length; j++) tail |= (uint64_t)word[i + j] << (8 * j);
    hash ^= tail;
    hash ^= hash >> 33;
    hash *= 0xFF51AFD7ED558CCDULL;
    hash ^= hash >> 33;
    hash *= 0xC4CEB9FE1A85EC53ULL;
    return hash ^ (hash >> 33);
}

/* Is a key (word) seen twice? Open addressing over `word_hash`. 1: yes (or too many
 * collisions to tell cheaply); 0: no; -1: no memory. */
static int has_repeated_key(const char *s, const Span *keys, Py_ssize_t count) {
    Py_ssize_t stack[512], *table = stack, size = 16;
    while (size < 2 * count) size *= 2;
    if (size > 512 && (table = PyMem_Malloc(size * sizeof(Py_ssize_t))) == NULL) return -1;
    for (Py_ssize_t i = 0; i < size; i++) table[i] = -1;
    int repeated = 0;
    for (Py_ssize_t k = 0; k < count && !repeated; k++) {
        const char *word = s + keys[k].start;
        Py_ssize_t length = keys[k].length;
        Py_ssize_t slot = (Py_ssize_t)(word_hash((const unsigned char *)word, length) & (uint64_t)(size - 1));
        for (int probes = 0; table[slot] >= 0; probes++) {
            const Span *other = &keys[table[slot]];
            if (probes == 64 || (other->length == length && memcmp(s + other->start, word, length) == 0)) {
                repeated = 1; /* a repeat, or too many collisions to tell cheaply: Python decides */
                break;
            }
            slot = (slot + 1) & (size - 1);
        }
        table[slot] = k;
    }
    if (table != stack) PyMem_Free(table);
    return repeated;
}

/* Parse the object into `keys` (one per word) and `words` (the word at each position, in
 * reading order, with its position in `positions`). 1: parsed; 0: not the plain case; -1: error. */
static int parse(const char *s, Py_ssize_t n, Spans *keys, Spans *words, Py_ssize_t **positions,
                 Py_ssize_t *positions_capacity, unsigned char *high) {
    unsigned char bits = 0; /* kept in a register: a char pointer may alias the input */
    Py_ssize_t i = skip_space(s, 0, n);
    if (i >= n || s[i] != '{') return 0;
    i = skip_space(s, i + 1, n);
    if (i < n && s[i] == '}') return skip_space(s, i + 1, n) == n; /* {}: no words */
    for (;;) {
        if (i >= n || s[i] != '"') return 0;
        Py_ssize_t start = ++i;
        unsigned char key_bits = 0;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\' || (unsigned char)s[i] < 0x20) return 0;
            key_bits |= (unsigned char)s[i];
            i++;
        }
        bits |= key_bits;
        if (i >= n || i == start) return 0; /* unterminated, or an empty word */
        Py_ssize_t length = i - start;
        if (spans_push(keys, start, length) < 0) return -1;
        i = skip_space(s, i + 1, n);
        if (i >= n || s[i] != ':') return 0;
        i = skip_space(s, i + 1, n);
        if (i >= n || s[i] != '[') return 0;
        i = skip_space(s, i + 1, n);
        if (i < n && s[i] == ']') {
            if (key_bits >= 0x80) return 0; /* a word not in the text: its UTF-8 would go unchecked */
            i++;
        } else {
            for (;;) {
                if (i >= n || s[i] < '0' || s[i] > '9') return 0;
                if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') return 0;
                Py_ssize_t position = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (position > 100000000) return 0; /* far beyond any abstract */
                    position = position * 10 + (s[i] - '0');
                    i++;
                }
                if (words->count == *positions_capacity) {
                    Py_ssize_t capacity = *positions_capacity ? 2 * *positions_capacity : 256;
                    Py_ssize_t *grown = PyMem_Realloc(*positions, capacity * sizeof(Py_ssize_t));
                    if (grown == NULL) return -1;
                    *positions = grown;
                    *positions_capacity = capacity;
                }
                (*positions)[words->count] = position;
                if (spans_push(words, start, length) < 0) return -1;
                i = skip_space(s, i, n);
                if (i < n && s[i] == ',') {
                    i = skip_space(s, i + 1, n);
                    continue;
                }
                if (i < n && s[i] == ']') {
                    i++;
                    break;
                }
                return 0; /* a fraction, an exponent, or anything else */
            }
        }
        i = skip_space(s, i, n);
        if (i < n && s[i] == ',') {
            i = skip_space(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == '}') {
            *high = bits;
            return skip_space(s, i + 1, n) == n;
        }
        return 0;
    }
}

static PyObject *abstract_from_json(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *s = view.buf;
    Py_ssize_t n = view.len;
    Spans keys = {NULL, 0, 0}, words = {NULL, 0, 0};
    Py_ssize_t *positions = NULL, positions_capacity = 0, *order = NULL;
    PyObject *result = NULL;
    char *text = NULL;

    unsigned char high = 0; /* the bits of every byte of every word: below 0x80, all ASCII */
    int parsed = parse(s, n, &keys, &words, &positions, &positions_capacity, &high);
    if (parsed < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (parsed == 0) goto fallback;
    if (words.count == 0) {
        result = PyUnicode_FromStringAndSize("", 0);
        goto done;
    }
    /* Every position 0..count-1 exactly once: `order` maps a position to its word. */
    order = PyMem_Malloc(words.count * sizeof(Py_ssize_t));
    if (order == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t p = 0; p < words.count; p++) order[p] = -1;
    Py_ssize_t size = words.count - 1; /* the spaces */
    for (Py_ssize_t w = 0; w < words.count; w++) {
        Py_ssize_t position = positions[w];
        if (position >= words.count || order[position] >= 0) goto fallback;
        order[position] = w;
        size += words.items[w].length;
    }
    int repeated = has_repeated_key(s, keys.items, keys.count);
    if (repeated < 0) {
        PyErr_NoMemory();
        goto done;
    }
    if (repeated) goto fallback;
    if (high < 0x80) { /* ASCII: written straight into the string */
        result = PyUnicode_New(size, 127);
        if (result == NULL) goto done;
        char *out = (char *)PyUnicode_1BYTE_DATA(result);
        for (Py_ssize_t p = 0; p < words.count; p++) {
            const Span *word = &words.items[order[p]];
            if (p) *out++ = ' ';
            memcpy(out, s + word->start, word->length);
            out += word->length;
        }
        goto done;
    }
    text = PyMem_Malloc(size);
    if (text == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    char *out = text;
    for (Py_ssize_t p = 0; p < words.count; p++) {
        const Span *word = &words.items[order[p]];
        if (p) *out++ = ' ';
        memcpy(out, s + word->start, word->length);
        out += word->length;
    }
    result = PyUnicode_DecodeUTF8(text, size, "strict");
    if (result == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        goto fallback;
    }
    goto done;

fallback:
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(text);
    PyMem_Free(order);
    PyMem_Free(positions);
    PyMem_Free(words.items);
    PyMem_Free(keys.items);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"abstract_from_json", abstract_from_json, METH_O,
     "abstract_from_json(raw, /)\n--\n\n"
     "The abstract that the JSON text `raw` (bytes-like) of an abstract_inverted_index encodes,\n"
     "or None if it is not the plain case (the caller then rebuilds it in Python)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_abstracts", "OpenAlex abstracts rebuilt from their JSON text.", -1, methods,
};

PyMODINIT_FUNC PyInit__abstracts(void) { return PyModule_Create(&module); }
