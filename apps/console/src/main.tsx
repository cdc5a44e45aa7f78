import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { ApiError } from './api/client';
import { SessionProvider, useSession } from './api/session-context';
import { Layout } from './components/Layout';
import { Admin } from './pages/Admin';
import { Agent } from './pages/Agent';
import { Catalog } from './pages/Catalog';
import { ConnectionPage } from './pages/Connection';
import { Connections } from './pages/Connections';
import { Health } from './pages/Health';
import { Install } from './pages/Install';
import { SignIn } from './pages/SignIn';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // A refusal is not retried (the key or the request is wrong); a network blip is, once.
      retry: (count, error) =>
        !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 1,
      refetchOnWindowFocus: false,
    },
  },
});

function SignedIn() {
  const { session } = useSession();
  return session ? <Layout /> : <Navigate to="/" replace />;
}

function Start() {
  const { session } = useSession();
  return session ? <Navigate to="/connections" replace /> : <SignIn />;
}

const router = createBrowserRouter(
  [
    { path: '/', element: <Start /> },
    {
      element: <SignedIn />,
      children: [
        { path: '/catalog', element: <Catalog /> },
        { path: '/install/:serverId', element: <Install /> },
        { path: '/connections', element: <Connections /> },
        { path: '/connections/:id', element: <ConnectionPage /> },
        { path: '/agent', element: <Agent /> },
        { path: '/health', element: <Health /> },
        { path: '/admin', element: <Admin /> },
      ],
    },
    { path: '*', element: <Navigate to="/" replace /> },
  ],
  { basename: '/console' },
);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider>
      <QueryClientProvider client={queryClient}>
        <RouterProvider router={router} />
      </QueryClientProvider>
    </SessionProvider>
  </StrictMode>,
);
