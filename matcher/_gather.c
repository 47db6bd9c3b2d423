/* Give decoded OpenAlex works to their authors: `_Reader.attach` of matcher/sources/openalex.py,
 * for a run of work rows at a time.
 *
 * A works file gives each work to 3-6 authors on average, and building each author's copy of the
 * work (its co-authors are the others) was, in Python, as costly as decoding the JSON. This does
 * the same steps on the same objects: the reader's `authors` and `works` dicts, its `_Author`
 * objects and `Work` objects, whose slots it reads and writes directly (`setup` finds them).
 *
 * `attach(authors, works, row, where)` gives one work row ((id, title, abstract, year, topics,
 * authorships), a `WorkRow`) found at `where` to its authors, and returns True; or, for a
 * second record of a work, does nothing and returns False (Python rejects it).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h>

/* The slots of `_Author` and `Work` this reads or writes, by byte offset in the object. */
enum { A_PID, A_RECORD, A_NAME, A_ORCID, A_PLACE, A_PLACE_YEAR, A_WORKS, A_TOPICS, A_COUNT };
static const char *author_slots[A_COUNT] = {"pid", "record", "name", "orcid", "place", "place_year", "works",
                                            "topics"};
enum { W_ID, W_TITLE, W_ABSTRACT, W_YEAR, W_COAUTHORS, W_COUNT };
static const char *work_slots[W_COUNT] = {"id", "title", "abstract", "year", "coauthors"};

#define P_COUNT 11 /* the fields of `Profile`, in order */
static const char *profile_slots[P_COUNT] = {"id", "name", "country", "kind", "institution", "keywords", "works",
                                             "capacity", "orcid", "openalex", "private"};

static PyTypeObject *author_type = NULL, *work_type = NULL, *profile_type = NULL;
static Py_ssize_t author_offset[A_COUNT], work_offset[W_COUNT], profile_offset[P_COUNT];
static PyObject *prefix = NULL;
static Py_ssize_t max_coauthors = 0;

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* A slot's value (borrowed), or NULL with AttributeError if it is unset (`del obj.name`). */
static PyObject *get_slot(PyObject *obj, Py_ssize_t offset, const char *name) {
    PyObject *value = SLOT(obj, offset);
    if (value == NULL)
        PyErr_Format(PyExc_AttributeError, "'%s' object has no attribute '%s'", Py_TYPE(obj)->tp_name, name);
    return value;
}

/* Set a slot to a new reference to `value`, releasing what it held. */
static void set_slot(PyObject *obj, Py_ssize_t offset, PyObject *value) {
    PyObject *old = SLOT(obj, offset);
    Py_INCREF(value);
    SLOT(obj, offset) = value;
    Py_XDECREF(old);
}

/* The offsets of the named slots of `type` into `offsets`; -1 with an exception if one is not a
 * slot of that class. (Each setup fills local arrays first, so a failed one changes nothing.) */
static int find_slots(PyTypeObject *type, const char **names, Py_ssize_t *offsets, int count) {
    for (int i = 0; i < count; i++) {
        PyObject *descr = PyObject_GetAttrString((PyObject *)type, names[i]);
        if (descr == NULL) return -1;
        if (!Py_IS_TYPE(descr, &PyMemberDescr_Type) ||
            ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX ||
            !PyType_IsSubtype(type, PyDescr_TYPE(descr))) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a slot", type->tp_name, names[i]);
            Py_DECREF(descr);
            return -1;
        }
        offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
    }
    return 0;
}

/* setup_profiles(work_cls, profile_cls): where the slots of `Work` and `Profile` are. */
static PyObject *setup_profiles(PyObject *self, PyObject *args) {
    PyObject *work_cls, *profile_cls;
    Py_ssize_t works[W_COUNT], profiles[P_COUNT];
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &work_cls, &PyType_Type, &profile_cls)) return NULL;
    if (find_slots((PyTypeObject *)work_cls, work_slots, works, W_COUNT) < 0 ||
        find_slots((PyTypeObject *)profile_cls, profile_slots, profiles, P_COUNT) < 0)
        return NULL;
    memcpy(work_offset, works, sizeof works);
    memcpy(profile_offset, profiles, sizeof profiles);
    Py_INCREF(work_cls);
    Py_INCREF(profile_cls);
    Py_XSETREF(work_type, (PyTypeObject *)work_cls);
    Py_XSETREF(profile_type, (PyTypeObject *)profile_cls);
    Py_RETURN_NONE;
}

/* setup_authors(author_cls, prefix, max_coauthors): where the slots of `_Author` are, the
 * profile id prefix, and the most co-authors a work keeps. */
static PyObject *setup_authors(PyObject *self, PyObject *args) {
    PyObject *author_cls, *id_prefix;
    Py_ssize_t cap;
    Py_ssize_t offsets[A_COUNT];
    if (!PyArg_ParseTuple(args, "O!Un", &PyType_Type, &author_cls, &id_prefix, &cap)) return NULL;
    if (cap < 0) {
        PyErr_SetString(PyExc_ValueError, "max_coauthors must be at least 0");
        return NULL;
    }
    if (find_slots((PyTypeObject *)author_cls, author_slots, offsets, A_COUNT) < 0) return NULL;
    memcpy(author_offset, offsets, sizeof offsets);
    Py_INCREF(author_cls);
    Py_INCREF(id_prefix);
    Py_XSETREF(author_type, (PyTypeObject *)author_cls);
    Py_XSETREF(prefix, id_prefix);
    max_coauthors = cap;
    Py_RETURN_NONE;
}

/* The work's authors, each once, in order of first appearance (Python: a dict by profile id;
 * one `_Author` per profile id, so here by object), held as strong references. Small lists are
 * searched, large ones looked up in a set. */
typedef struct {
    PyObject **items;
    Py_ssize_t count;
    PyObject *seen; /* a set of the members, once there are more than SEARCHED */
} Members;

#define SEARCHED 32

static int members_add(Members *members, PyObject *acc) {
    if (members->seen != NULL) {
        int found = PySet_Contains(members->seen, acc);
        if (found != 0) return found < 0 ? -1 : 0;
        if (PySet_Add(members->seen, acc) < 0) return -1;
    } else {
        for (Py_ssize_t i = 0; i < members->count; i++)
            if (members->items[i] == acc) return 0;
        if (members->count == SEARCHED) {
            members->seen = PySet_New(NULL);
            if (members->seen == NULL) return -1;
            for (Py_ssize_t i = 0; i < members->count; i++)
                if (PySet_Add(members->seen, members->items[i]) < 0) return -1;
            if (PySet_Add(members->seen, acc) < 0) return -1;
        }
    }
    Py_INCREF(acc);
    members->items[members->count++] = acc;
    return 0;
}

/* One author's place in a work: what `_Reader.attach` does for one authorship. Returns the
 * `_Author` (borrowed from `authors`), or NULL with an exception set. */
static PyObject *take_authorship(PyObject *authors, PyObject *authorship, PyObject *line, long rank) {
    if (!PyTuple_Check(authorship) || PyTuple_GET_SIZE(authorship) != 5) {
        PyErr_SetString(PyExc_TypeError, "an authorship is a tuple of 5");
        return NULL;
    }
    PyObject *aid = PyTuple_GET_ITEM(authorship, 0), *index = PyTuple_GET_ITEM(authorship, 1);
    PyObject *name = PyTuple_GET_ITEM(authorship, 2), *orcid = PyTuple_GET_ITEM(authorship, 3);
    PyObject *place = PyTuple_GET_ITEM(authorship, 4);
    PyObject *acc = PyDict_GetItemWithError(authors, aid);
    if (acc == NULL) {
        if (PyErr_Occurred()) return NULL;
        PyObject *where = PyTuple_Pack(2, line, index);
        if (where == NULL) return NULL;
        PyObject *made = PyObject_CallFunctionObjArgs((PyObject *)author_type, aid, where, name, orcid, NULL);
        Py_DECREF(where);
        if (made == NULL) return NULL;
        if (Py_TYPE(made) != author_type) {
            PyErr_SetString(PyExc_TypeError, "the author class made something that is not one of it");
            Py_DECREF(made);
            return NULL;
        }
        int failed = PyDict_SetItem(authors, aid, made);
        Py_DECREF(made);
        if (failed) return NULL;
        acc = made;
    } else if (Py_TYPE(acc) != author_type) {
        PyErr_SetString(PyExc_TypeError, "the authors dict holds something that is not an _Author");
        return NULL;
    } else {
        PyObject *record = get_slot(acc, author_offset[A_RECORD], "record");
        if (record == NULL) return NULL;
        if (record == Py_None) {
            PyObject *known_name = get_slot(acc, author_offset[A_NAME], "name");
            int named = known_name == NULL ? -1 : PyObject_IsTrue(known_name);
            if (named < 0) return NULL;
            if (!named) {
                set_slot(acc, author_offset[A_NAME], name);
                PyObject *known_orcid = get_slot(acc, author_offset[A_ORCID], "orcid");
                int has_orcid = known_orcid == NULL ? -1 : PyObject_IsTrue(known_orcid);
                if (has_orcid < 0) return NULL;
                if (!has_orcid) set_slot(acc, author_offset[A_ORCID], orcid);
            }
        }
    }
    if (place != Py_None) {
        PyObject *place_year = get_slot(acc, author_offset[A_PLACE_YEAR], "place_year");
        if (place_year == NULL) return NULL;
        long year = PyLong_AsLong(place_year);
        if (year == -1 && PyErr_Occurred()) return NULL;
        if (rank > year) {
            PyObject *new_year = PyLong_FromLong(rank);
            if (new_year == NULL) return NULL;
            set_slot(acc, author_offset[A_PLACE], place);
            set_slot(acc, author_offset[A_PLACE_YEAR], new_year);
            Py_DECREF(new_year);
        }
    }
    return acc;
}

/* A `Work` made as `matcher.sources.build.checked_work` makes it (its slots set, no __init__). */
static PyObject *new_work(PyObject *id, PyObject *title, PyObject *abstract, PyObject *year, PyObject *coauthors) {
    PyObject *work = work_type->tp_alloc(work_type, 0);
    if (work == NULL) return NULL;
    PyObject *values[W_COUNT] = {id, title, abstract, year, coauthors};
    for (int i = 0; i < W_COUNT; i++) set_slot(work, work_offset[i], values[i]);
    return work;
}

/* The co-authors of member k: the other members' profile ids, at most `max_coauthors`. */
static PyObject *others(PyObject *ids, Py_ssize_t k) {
    Py_ssize_t n = PyTuple_GET_SIZE(ids) - 1;
    if (n > max_coauthors) n = max_coauthors;
    PyObject *out = PyTuple_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0, j = 0; j < n; i++) {
        if (i == k) continue;
        PyObject *id = PyTuple_GET_ITEM(ids, i);
        Py_INCREF(id);
        PyTuple_SET_ITEM(out, j++, id);
    }
    return out;
}

/* One work row: returns 1 if attached, 0 if it is a second record of a work (left to Python),
 * -1 on error. `line`: where the row is (a line number or a JSON path). */
static int attach_row(PyObject *authors, PyObject *works, PyObject *row, PyObject *line) {
    if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 6) {
        PyErr_SetString(PyExc_TypeError, "a work row is a tuple of 6");
        return -1;
    }
    PyObject *wid = PyTuple_GET_ITEM(row, 0), *title = PyTuple_GET_ITEM(row, 1);
    PyObject *abstract = PyTuple_GET_ITEM(row, 2), *year = PyTuple_GET_ITEM(row, 3);
    PyObject *topics = PyTuple_GET_ITEM(row, 4), *authorships = PyTuple_GET_ITEM(row, 5);
    if (!PyList_Check(authorships)) {
        PyErr_SetString(PyExc_TypeError, "a work row's authorships are a list");
        return -1;
    }
    long rank = 0; /* year or 0 */
    if (year != Py_None) {
        int overflow = 0;
        rank = PyLong_Check(year) ? PyLong_AsLongAndOverflow(year, &overflow) : -1;
        if (!PyLong_Check(year) || overflow) {
            PyErr_SetString(PyExc_TypeError, "a work row's year is an int or None");
            return -1;
        }
        if (rank == -1 && PyErr_Occurred()) return -1;
    }
    int seen = PyDict_Contains(works, wid);
    if (seen != 0) return seen < 0 ? -1 : 0;
    if (PyDict_SetItem(works, wid, line) < 0) return -1;
    Py_ssize_t count = PyList_GET_SIZE(authorships);
    PyObject *stack[SEARCHED];
    Members members = {count <= SEARCHED ? stack : PyMem_New(PyObject *, count), 0, NULL};
    PyObject *ids = NULL, *work_id = NULL;
    int status = -1;
    if (members.items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count && i < PyList_GET_SIZE(authorships); i++) { /* Python code may run */
        PyObject *authorship = PyList_GET_ITEM(authorships, i);
        Py_INCREF(authorship);
        PyObject *acc = take_authorship(authors, authorship, line, rank);
        Py_DECREF(authorship);
        if (acc == NULL || members_add(&members, acc) < 0) goto done;
    }
    ids = PyTuple_New(members.count);
    work_id = PyUnicode_Concat(prefix, wid);
    if (ids == NULL || work_id == NULL) goto done;
    for (Py_ssize_t k = 0; k < members.count; k++) {
        PyObject *pid = get_slot(members.items[k], author_offset[A_PID], "pid");
        if (pid == NULL) goto done;
        Py_INCREF(pid);
        PyTuple_SET_ITEM(ids, k, pid);
    }
    for (Py_ssize_t k = 0; k < members.count; k++) {
        PyObject *acc = members.items[k];
        PyObject *its_works = get_slot(acc, author_offset[A_WORKS], "works");
        PyObject *its_topics = get_slot(acc, author_offset[A_TOPICS], "topics");
        if (its_works == NULL || its_topics == NULL) goto done;
        if (!PyList_Check(its_works) || !PyList_Check(its_topics)) {
            PyErr_SetString(PyExc_TypeError, "an author's works and topics are lists");
            goto done;
        }
        PyObject *coauthors = others(ids, k);
        if (coauthors == NULL) goto done;
        PyObject *work = new_work(work_id, title, abstract, year, coauthors);
        Py_DECREF(coauthors);
        if (work == NULL) goto done;
        int failed = PyList_Append(its_works, work);
        Py_DECREF(work);
        if (failed || PyList_Append(its_topics, topics) < 0) goto done;
    }
    status = 1;
done:
    Py_XDECREF(ids);
    Py_XDECREF(work_id);
    Py_XDECREF(members.seen);
    for (Py_ssize_t k = 0; k < members.count; k++) Py_DECREF(members.items[k]);
    if (members.items != stack) PyMem_Free(members.items);
    return status;
}

static PyObject *attach(PyObject *self, PyObject *args) {
    PyObject *authors, *works, *row, *where;
    if (!PyArg_ParseTuple(args, "O!O!OO", &PyDict_Type, &authors, &PyDict_Type, &works, &row, &where)) return NULL;
    if (author_type == NULL || work_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call setup_profiles() and setup_authors() first");
        return NULL;
    }
    int done = attach_row(authors, works, row, where);
    if (done < 0) return NULL;
    return PyBool_FromLong(done);
}

/* new_profile(id, name, ..., private): a `Profile` of these field values, in field order, made as
 * `matcher.sources.build.make_profile` makes it once they are checked (slots set, no __init__). */
static PyObject *new_profile(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (profile_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call setup_profiles() first");
        return NULL;
    }
    if (nargs != P_COUNT) {
        PyErr_Format(PyExc_TypeError, "new_profile takes %d values, got %zd", P_COUNT, nargs);
        return NULL;
    }
    PyObject *profile = profile_type->tp_alloc(profile_type, 0);
    if (profile == NULL) return NULL;
    for (int i = 0; i < P_COUNT; i++) set_slot(profile, profile_offset[i], args[i]);
    return profile;
}

/* top_topics(lists, k): the k most frequent items of the lists (strings), the first seen first
 * among equals: `sorted(counts, key=counts.__getitem__, reverse=True)[:k]` of their counts in
 * order of first appearance, as `matcher.sources.openalex._most_frequent` computes it. Items
 * are told apart by identity first (topic names are interned), then by hash and value; past
 * TALLIES_SEARCHED distinct items, through a dict. */
#define TALLIES_SEARCHED 256 /* compared by identity and hash: cheaper than a dict up to here */

typedef struct {
    PyObject *item; /* a strong reference: comparing items may run Python code */
    Py_hash_t hash;
    Py_ssize_t count;
} Tally;

static Py_ssize_t tally_find(Tally *tallies, Py_ssize_t n, PyObject *index, PyObject *item, Py_hash_t hash) {
    if (index != NULL) {
        PyObject *place = PyDict_GetItemWithError(index, item);
        if (place == NULL) return PyErr_Occurred() ? -2 : -1;
        return PyLong_AsSsize_t(place);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (tallies[i].item == item) return i;
        if (tallies[i].hash != hash) continue;
        int same = PyObject_RichCompareBool(tallies[i].item, item, Py_EQ);
        if (same < 0) return -2;
        if (same) return i;
    }
    return -1;
}

static int tally_index(PyObject *index, PyObject *item, Py_ssize_t place) {
    PyObject *number = PyLong_FromSsize_t(place);
    if (number == NULL) return -1;
    int failed = PyDict_SetItem(index, item, number);
    Py_DECREF(number);
    return failed;
}

static PyObject *top_topics(PyObject *self, PyObject *args) {
    PyObject *lists;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "O!n", &PyList_Type, &lists, &k)) return NULL;
    if (k < 0) {
        PyErr_SetString(PyExc_ValueError, "k must be at least 0");
        return NULL;
    }
    Tally *tallies = NULL;
    Py_ssize_t n = 0, capacity = 0;
    PyObject *index = NULL; /* item -> its place in `tallies`, past TALLIES_SEARCHED */
    PyObject *out = NULL, *held = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(lists); i++) {
        PyObject *topics = PyList_GET_ITEM(lists, i);
        if (!PyList_Check(topics)) {
            PyErr_SetString(PyExc_TypeError, "top_topics takes a list of lists");
            goto done;
        }
        Py_INCREF(topics);
        Py_XSETREF(held, topics); /* the list being counted stays alive while Python code may run */
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(topics); j++) { /* (Python code may change the list) */
            PyObject *topic = PyList_GET_ITEM(topics, j);
            Py_INCREF(topic);
            Py_hash_t hash = PyObject_Hash(topic); /* cached in a str */
            Py_ssize_t place = hash == -1 ? -2 : tally_find(tallies, n, index, topic, hash);
            if (place != -1) {
                if (place >= 0) tallies[place].count++;
                Py_DECREF(topic);
                if (place == -2) goto done;
                continue;
            }
            if (n == capacity) {
                Tally *grown = tallies;
                capacity = capacity ? 2 * capacity : 16;
                PyMem_Resize(grown, Tally, capacity);
                if (grown == NULL) {
                    Py_DECREF(topic);
                    PyErr_NoMemory();
                    goto done;
                }
                tallies = grown;
            }
            tallies[n].item = topic; /* the reference taken above */
            tallies[n].hash = hash;
            tallies[n].count = 1;
            n++;
            if (index == NULL && n > TALLIES_SEARCHED) { /* from now on, a dict */
                if ((index = PyDict_New()) == NULL) goto done;
                for (Py_ssize_t t = 0; t < n; t++)
                    if (tally_index(index, tallies[t].item, t) < 0) goto done;
            } else if (index != NULL && tally_index(index, topic, n - 1) < 0) {
                goto done;
            }
        }
    }
    if (k > n) k = n;
    if ((out = PyList_New(k)) == NULL) goto done;
    for (Py_ssize_t taken = 0; taken < k; taken++) { /* the largest count left, the earliest among equals */
        Py_ssize_t best = -1;
        for (Py_ssize_t i = 0; i < n; i++)
            if (tallies[i].count > 0 && (best < 0 || tallies[i].count > tallies[best].count)) best = i;
        tallies[best].count = 0;
        Py_INCREF(tallies[best].item);
        PyList_SET_ITEM(out, taken, tallies[best].item);
    }
done:
    if (PyErr_Occurred()) Py_CLEAR(out);
    Py_XDECREF(index);
    Py_XDECREF(held);
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(tallies[i].item);
    PyMem_Free(tallies);
    return out;
}

/* The authorships of a decoded work (`matcher.sources.openalex_records._typed_authorships`):
 * msgspec structs whose fields are slots too, read here by offset. */
enum { S_AUTHOR, S_INSTITUTIONS, S_COUNTRIES, S_COUNT };
static const char *authorship_slots[S_COUNT] = {"author", "institutions", "countries"};
enum { R_ID, R_NAME, R_ORCID, R_COUNT };
static const char *author_ref_slots[R_COUNT] = {"id", "display_name", "orcid"};
enum { I_CODE, I_NAME, I_COUNT };
static const char *institution_slots[I_COUNT] = {"country_code", "display_name"};

static PyTypeObject *authorship_type = NULL, *author_ref_type = NULL, *institution_type = NULL;
static Py_ssize_t authorship_offset[S_COUNT], author_ref_offset[R_COUNT], institution_offset[I_COUNT];
static PyObject *url = NULL, *short_id = NULL, *orcid_of = NULL, *empty = NULL;

/* setup_authorships(authorship_cls, author_ref_cls, institution_cls, url, short_id, orcid_of) */
static PyObject *setup_authorships(PyObject *self, PyObject *args) {
    PyObject *classes[3], *prefix_url, *short_id_fn, *orcid_of_fn;
    if (!PyArg_ParseTuple(args, "O!O!O!UOO", &PyType_Type, &classes[0], &PyType_Type, &classes[1], &PyType_Type,
                          &classes[2], &prefix_url, &short_id_fn, &orcid_of_fn))
        return NULL;
    Py_ssize_t authorship[S_COUNT], author_ref[R_COUNT], institution[I_COUNT];
    if (find_slots((PyTypeObject *)classes[0], authorship_slots, authorship, S_COUNT) < 0 ||
        find_slots((PyTypeObject *)classes[1], author_ref_slots, author_ref, R_COUNT) < 0 ||
        find_slots((PyTypeObject *)classes[2], institution_slots, institution, I_COUNT) < 0)
        return NULL;
    memcpy(authorship_offset, authorship, sizeof authorship);
    memcpy(author_ref_offset, author_ref, sizeof author_ref);
    memcpy(institution_offset, institution, sizeof institution);
    if (empty == NULL && (empty = PyUnicode_New(0, 0)) == NULL) return NULL;
    PyObject *keep[6] = {classes[0], classes[1], classes[2], prefix_url, short_id_fn, orcid_of_fn};
    for (int i = 0; i < 6; i++) Py_INCREF(keep[i]);
    Py_XSETREF(authorship_type, (PyTypeObject *)classes[0]);
    Py_XSETREF(author_ref_type, (PyTypeObject *)classes[1]);
    Py_XSETREF(institution_type, (PyTypeObject *)classes[2]);
    Py_XSETREF(url, prefix_url);
    Py_XSETREF(short_id, short_id_fn);
    Py_XSETREF(orcid_of, orcid_of_fn);
    Py_RETURN_NONE;
}

static int is_text(PyObject *value) { return PyUnicode_Check(value) && PyUnicode_GET_LENGTH(value) > 0; }

/* (country code, institution name) of one authorship, or None: the first institution with a
 * country code, else the first of its countries. A new reference, NULL on error. */
static PyObject *authorship_place(PyObject *authorship) {
    PyObject *institutions = get_slot(authorship, authorship_offset[S_INSTITUTIONS], "institutions");
    if (institutions == NULL) return NULL;
    if (PyList_Check(institutions)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(institutions); i++) {
            PyObject *inst = PyList_GET_ITEM(institutions, i);
            if (!Py_IS_TYPE(inst, institution_type)) {
                PyErr_SetString(PyExc_TypeError, "an institution of unexpected type");
                return NULL;
            }
            PyObject *code = get_slot(inst, institution_offset[I_CODE], "country_code");
            PyObject *name = get_slot(inst, institution_offset[I_NAME], "display_name");
            if (code == NULL || name == NULL) return NULL;
            if (is_text(code)) return PyTuple_Pack(2, code, is_text(name) ? name : empty);
        }
    }
    PyObject *countries = get_slot(authorship, authorship_offset[S_COUNTRIES], "countries");
    if (countries == NULL) return NULL;
    if (PyList_Check(countries) && PyList_GET_SIZE(countries) > 0 && is_text(PyList_GET_ITEM(countries, 0)))
        return PyTuple_Pack(2, PyList_GET_ITEM(countries, 0), empty);
    Py_RETURN_NONE;
}

/* The entry of the authorship at `index`, or Py_None for one without an author id (both new
 * references), or NULL with an exception. The values read are held while Python code
 * (`short_id`, `orcid_of`) runs. */
static PyObject *one_authorship(PyObject *authorship, Py_ssize_t index) {
    if (!Py_IS_TYPE(authorship, authorship_type)) {
        PyErr_SetString(PyExc_TypeError, "an authorship of unexpected type");
        return NULL;
    }
    PyObject *author = get_slot(authorship, authorship_offset[S_AUTHOR], "author");
    if (author == NULL) return NULL;
    if (author == Py_None) Py_RETURN_NONE;
    if (!Py_IS_TYPE(author, author_ref_type)) {
        PyErr_SetString(PyExc_TypeError, "an author of unexpected type");
        return NULL;
    }
    PyObject *id = get_slot(author, author_ref_offset[R_ID], "id");
    PyObject *name = get_slot(author, author_ref_offset[R_NAME], "display_name");
    PyObject *raw_orcid = get_slot(author, author_ref_offset[R_ORCID], "orcid");
    if (id == NULL || name == NULL || raw_orcid == NULL) return NULL;
    if (!PyUnicode_Check(id)) Py_RETURN_NONE; /* None */
    PyObject *place = authorship_place(authorship); /* before any Python code runs */
    if (place == NULL) return NULL;
    PyObject *aid = NULL, *orcid = NULL, *number = NULL, *entry = NULL;
    Py_INCREF(name);
    Py_INCREF(raw_orcid);
    Py_ssize_t matched = PyUnicode_Tailmatch(id, url, 0, PY_SSIZE_T_MAX, -1);
    if (matched < 0) goto done;
    aid = matched ? PyUnicode_Substring(id, PyUnicode_GET_LENGTH(url), PY_SSIZE_T_MAX)
                  : PyObject_CallOneArg(short_id, id);
    if (aid == NULL) goto done;
    if (!is_text(aid)) { /* None or empty: no author to attach to */
        entry = Py_None;
        Py_INCREF(entry);
        goto done;
    }
    if (is_text(raw_orcid)) {
        orcid = PyObject_CallOneArg(orcid_of, raw_orcid);
    } else {
        orcid = Py_None;
        Py_INCREF(orcid);
    }
    if (orcid != NULL) number = PyLong_FromSsize_t(index);
    if (number != NULL) entry = PyTuple_Pack(5, aid, number, is_text(name) ? name : empty, orcid, place);
done:
    Py_XDECREF(aid);
    Py_XDECREF(orcid);
    Py_XDECREF(number);
    Py_DECREF(place);
    Py_DECREF(name);
    Py_DECREF(raw_orcid);
    return entry;
}

static PyObject *authorships(PyObject *self, PyObject *items) {
    if (authorship_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call setup_authorships() first");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL || !PyList_Check(items)) return out; /* None or UNSET: no authorships */
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(items); index++) {
        PyObject *authorship = PyList_GET_ITEM(items, index);
        Py_INCREF(authorship);
        PyObject *entry = one_authorship(authorship, index);
        Py_DECREF(authorship);
        if (entry == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        int failed = entry != Py_None && PyList_Append(out, entry) < 0;
        Py_DECREF(entry);
        if (failed) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

static PyMethodDef methods[] = {
    {"setup_profiles", setup_profiles, METH_VARARGS,
     "setup_profiles(work_cls, profile_cls): the classes whose objects new_profile and attach make."},
    {"setup_authors", setup_authors, METH_VARARGS,
     "setup_authors(author_cls, prefix, max_coauthors): the reader's author class, for attach."},
    {"attach", attach, METH_VARARGS,
     "attach(authors, works, row, where) -> False for a second record of a work (nothing done), else True."},
    {"new_profile", (PyCFunction)(void (*)(void))new_profile, METH_FASTCALL,
     "new_profile(id, name, country, kind, institution, keywords, works, capacity, orcid, openalex, private)."},
    {"setup_authorships", setup_authorships, METH_VARARGS,
     "setup_authorships(authorship_cls, author_ref_cls, institution_cls, url, short_id, orcid_of)."},
    {"authorships", authorships, METH_O,
     "authorships(structs) -> [(author id, index, name, orcid, place)], as _typed_authorships gives them."},
    {"top_topics", top_topics, METH_VARARGS,
     "top_topics(lists, k) -> the k most frequent items of the lists, the first seen first among equals."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_gather", "OpenAlex works given to their authors, in C.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__gather(void) { return PyModule_Create(&module); }
