// Translation to come: every key falls back to Japanese until then.
export default {};
