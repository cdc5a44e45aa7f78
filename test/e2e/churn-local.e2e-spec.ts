import { churnSuite } from './churn-suite';

churnSuite('local');
