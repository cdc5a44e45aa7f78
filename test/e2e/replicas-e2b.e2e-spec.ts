import { replicasSuite } from './replicas-suite';

replicasSuite('e2b');
