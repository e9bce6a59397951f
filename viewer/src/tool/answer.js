// The JSON body of a server answer, or an Error with the server's own words (an OGC error's
// `description`) for a non-2xx one. Stateless, so the tools built apart may each carry it.
export async function jsonAnswer(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.description || response.statusText), { description: body.description });
  return body;
}
