import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { useCatalog } from '../api/queries';
import { Empty, ErrorNote, Loading } from '../components/Notice';

export function Catalog() {
  const catalog = useCatalog();
  const [search, setSearch] = useState('');
  const [category, setCategory] = useState('');
  const categories = useMemo(
    () => [...new Set((catalog.data ?? []).map((s) => s.category))].sort(),
    [catalog.data],
  );
  const shown = (catalog.data ?? []).filter(
    (s) =>
      (!category || s.category === category) &&
      `${s.id} ${s.name} ${s.description}`.toLowerCase().includes(search.trim().toLowerCase()),
  );
  return (
    <section>
      <h1>Catalog</h1>
      <div className="toolbar">
        <input
          aria-label="Search servers"
          placeholder="Search"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <select
          aria-label="Category"
          value={category}
          onChange={(e) => setCategory(e.target.value)}
        >
          <option value="">All categories</option>
          {categories.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </div>
      {catalog.isPending ? <Loading what="the catalog" /> : null}
      <ErrorNote error={catalog.error} what="The catalog could not be read" />
      {catalog.data && shown.length === 0 ? <Empty>No server type matches.</Empty> : null}
      <ul className="cards">
        {shown.map((server) => {
          const required = server.credential_schema.required ?? [];
          return (
            <li key={server.id} className="card" data-testid={`server-${server.id}`}>
              <h2>{server.name}</h2>
              <p>{server.description}</p>
              <dl>
                <dt>Category</dt>
                <dd>{server.category}</dd>
                <dt>Transport</dt>
                <dd>{server.transport}</dd>
                {server.remote ? (
                  <>
                    <dt>URL</dt>
                    <dd>
                      <code>{server.remote.url}</code>
                    </dd>
                  </>
                ) : null}
                <dt>Isolation</dt>
                <dd>{server.isolation ?? '—'}</dd>
                <dt>Visibility</dt>
                <dd>{server.visibility === 'account' ? 'this account’s template' : 'public'}</dd>
                <dt>Egress</dt>
                <dd>{server.egress.length ? server.egress.join(', ') : 'none'}</dd>
                <dt>Credentials</dt>
                <dd>{required.length ? required.join(', ') : 'none required'}</dd>
              </dl>
              <Link className="button" to={`/install/${encodeURIComponent(server.id)}`}>
                Install {server.name}
              </Link>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
