import { replicasSuite } from './replicas-suite';

replicasSuite('local');
