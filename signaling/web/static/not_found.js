// The 404 page: nothing to load, only the sign-in box of the header.

import { mountSignIn } from './signin.js';

mountSignIn(document.getElementById('signin'));
