/* runyard._speedups: log()'s hot path in C, one call per logged row of numbers.
 *
 * pack_row(block, data, step) appends one row to `block.rows` (a bytearray) as HistoryBlock.rows lays it
 * out: int64 step, float64 unix time, then a float64 for each key of `block.keys` (a tuple of str), all
 * little-endian. It returns the row's values as logged (a tuple, in key order), or None when the row cannot
 * be packed here: a key is missing, a value is not a plain number, or an int is beyond float64. Then nothing
 * was appended and log() takes its general path.
 *
 * It never runs Python code of a value: only floats and ints (bool and their other subclasses included)
 * are packed, read as they are, and the types in the set given to set_number_types() (numpy's scalar types,
 * registered by runyard._flatten), which convert in C. A tensor is never converted here, so log() never waits for its device. The caller holds the run's lock.
 *
 * runyard._items.pack_row is the same function in Python; the SDK uses it where this module was not built
 * (no C compiler at install time, or RUNYARD_SDK_PURE=1). tests/sdk/test_speedups.py holds both to the same
 * bytes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define STACK_KEYS 64

static PyObject *number_types = NULL; /* the set of other types that pack (numpy scalars) */
static PyObject *str_rows = NULL;
static PyObject *str_keys = NULL;

static inline void
put_le8(char *p, const void *src)
{
#if PY_BIG_ENDIAN
    const char *s = (const char *)src;
    for (int i = 0; i < 8; i++) {
        p[i] = s[7 - i];
    }
#else
    memcpy(p, src, 8);
#endif
}

/* The value as a double; 0 on success, -1 when it does not pack here (no exception left set). */
static int
as_number(PyObject *v, double *out)
{
    double d;
    if (PyFloat_Check(v)) { /* float, numpy's float64 */
        *out = PyFloat_AS_DOUBLE(v);
        return 0;
    }
    if (PyLong_Check(v)) { /* int, bool, IntEnum: the value itself, rounded as float() does */
        d = PyLong_AsDouble(v); /* OverflowError beyond float64 */
    }
    else if (number_types != NULL && PySet_Contains(number_types, (PyObject *)Py_TYPE(v)) == 1) {
        d = PyFloat_AsDouble(v);
    }
    else {
        PyErr_Clear(); /* PySet_Contains cannot fail on a type, but leave nothing behind */
        return -1;
    }
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = d;
    return 0;
}

static PyObject *
pack_row(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "pack_row(block, data, step) takes 3 arguments");
        return NULL;
    }
    PyObject *data = args[1];
    if (!PyDict_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "pack_row: data must be a dict");
        return NULL;
    }
    long long step = PyLong_AsLongLong(args[2]);
    if (step == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *rows = PyObject_GetAttr(args[0], str_rows);
    if (rows == NULL) {
        return NULL;
    }
    PyObject *keys = PyObject_GetAttr(args[0], str_keys);
    if (keys == NULL) {
        Py_DECREF(rows);
        return NULL;
    }
    PyObject *values = NULL;
    double stack[STACK_KEYS];
    double *nums = stack;
    if (!PyByteArray_CheckExact(rows) || !PyTuple_CheckExact(keys)) {
        PyErr_SetString(PyExc_TypeError, "pack_row: block.rows must be a bytearray and block.keys a tuple");
        goto error;
    }
    Py_ssize_t k = PyTuple_GET_SIZE(keys);
    if (k > STACK_KEYS) {
        nums = PyMem_Malloc(sizeof(double) * (size_t)k);
        if (nums == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    }
    values = PyTuple_New(k);
    if (values == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *v = PyDict_GetItemWithError(data, PyTuple_GET_ITEM(keys, i)); /* borrowed */
        if (v == NULL || as_number(v, &nums[i]) < 0) {
            goto refuse;
        }
        Py_INCREF(v);
        PyTuple_SET_ITEM(values, i, v);
    }
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) == 0) {
        goto refuse;
    }
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9; /* time.time() */
    Py_ssize_t size = PyByteArray_GET_SIZE(rows);
    if (PyByteArray_Resize(rows, size + 16 + 8 * k) < 0) { /* grows with room to spare, as += does */
        goto refuse;
    }
    char *p = PyByteArray_AS_STRING(rows) + size;
    int64_t step64 = (int64_t)step;
    put_le8(p, &step64);
    put_le8(p + 8, &now);
    for (Py_ssize_t i = 0; i < k; i++) {
        put_le8(p + 16 + 8 * i, &nums[i]);
    }
    if (nums != stack) {
        PyMem_Free(nums);
    }
    Py_DECREF(rows);
    Py_DECREF(keys);
    return values;

refuse:
    PyErr_Clear();
    Py_XDECREF(values);
    if (nums != stack) {
        PyMem_Free(nums);
    }
    Py_DECREF(rows);
    Py_DECREF(keys);
    Py_RETURN_NONE;

error:
    Py_XDECREF(values);
    if (nums != stack) {
        PyMem_Free(nums);
    }
    Py_DECREF(rows);
    Py_DECREF(keys);
    return NULL;
}

static PyObject *
set_number_types(PyObject *module, PyObject *types)
{
    if (!PySet_Check(types)) {
        PyErr_SetString(PyExc_TypeError, "set_number_types takes a set of types");
        return NULL;
    }
    Py_INCREF(types);
    Py_XSETREF(number_types, types);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"pack_row", (PyCFunction)(void (*)(void))pack_row, METH_FASTCALL,
     "pack_row(block, data, step) -> tuple | None: append one row of numbers to block.rows"},
    {"set_number_types", set_number_types, METH_O,
     "set_number_types(types): the set (kept, not copied) of other types that pack"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "runyard._speedups", "log()'s hot path in C (see runyard._items.pack_row)", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    str_rows = PyUnicode_InternFromString("rows");
    str_keys = PyUnicode_InternFromString("keys");
    if (str_rows == NULL || str_keys == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
