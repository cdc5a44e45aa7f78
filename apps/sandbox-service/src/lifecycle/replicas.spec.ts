import { defaultReplicaId } from './replicas';

describe("a replica's default id", () => {
  it('is the same on every restart, and differs by DATA_DIR and by host', () => {
    const id = defaultReplicaId('/var/lib/athenic', 'node-1');
    expect(id).toMatch(/^node-1-[0-9a-f]{8}$/);
    expect(defaultReplicaId('/var/lib/athenic/', 'node-1')).toBe(id);
    expect(defaultReplicaId('/var/lib/athenic-2', 'node-1')).not.toBe(id);
    expect(defaultReplicaId('/var/lib/athenic', 'node-2')).not.toBe(id);
  });

  it('stays a valid SANDBOX_REPLICA_ID whatever the host name', () => {
    expect(defaultReplicaId('/d', '__weird host/name!')).toMatch(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
    );
    expect(defaultReplicaId('/d', '')).toMatch(/^replica-[0-9a-f]{8}$/);
  });
});
