import { churnSuite } from './churn-suite';

churnSuite('e2b');
