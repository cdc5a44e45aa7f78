import { lifecycleSuite } from './lifecycle-suite';

lifecycleSuite('e2b');
