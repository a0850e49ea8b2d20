"""A two-layer GRU language model written the way Theano-era code was (Part 4 of the tutorial), for the
agreement tests of theano_compat. It uses only Theano's API: nothing here knows about PyTensor.

Per layer: z = hs(U_z x + W_z s + b_z), r = hs(U_r x + W_r s + b_r), h = tanh(U_h x + W_h (s * r) + b_h),
s = (1 - z) * h + z * s_prev; o = softmax(V s2 + c); RMSprop with decay given through theano.Param.
"""
import numpy as np
import theano
import theano.tensor as T


class GRUTheanoStyle:
    def __init__(self, word_dim, hidden_dim=128, bptt_truncate=-1, seed=0):
        self.word_dim = word_dim
        self.hidden_dim = hidden_dim
        self.bptt_truncate = bptt_truncate
        rng = np.random.RandomState(seed)
        E = rng.uniform(-np.sqrt(1. / word_dim), np.sqrt(1. / word_dim), (hidden_dim, word_dim))
        U = rng.uniform(-np.sqrt(1. / hidden_dim), np.sqrt(1. / hidden_dim), (6, hidden_dim, hidden_dim))
        W = rng.uniform(-np.sqrt(1. / hidden_dim), np.sqrt(1. / hidden_dim), (6, hidden_dim, hidden_dim))
        V = rng.uniform(-np.sqrt(1. / hidden_dim), np.sqrt(1. / hidden_dim), (word_dim, hidden_dim))
        b = np.zeros((6, hidden_dim))
        c = np.zeros(word_dim)
        floatX = theano.config.floatX
        self.E = theano.shared(name='E', value=E.astype(floatX))
        self.U = theano.shared(name='U', value=U.astype(floatX))
        self.W = theano.shared(name='W', value=W.astype(floatX))
        self.V = theano.shared(name='V', value=V.astype(floatX))
        self.b = theano.shared(name='b', value=b.astype(floatX))
        self.c = theano.shared(name='c', value=c.astype(floatX))
        # RMSprop caches
        self.mE = theano.shared(name='mE', value=np.zeros(E.shape).astype(floatX))
        self.mU = theano.shared(name='mU', value=np.zeros(U.shape).astype(floatX))
        self.mW = theano.shared(name='mW', value=np.zeros(W.shape).astype(floatX))
        self.mV = theano.shared(name='mV', value=np.zeros(V.shape).astype(floatX))
        self.mb = theano.shared(name='mb', value=np.zeros(b.shape).astype(floatX))
        self.mc = theano.shared(name='mc', value=np.zeros(c.shape).astype(floatX))
        self.theano = {}
        self.__theano_build__()

    def __theano_build__(self):
        E, V, U, W, b, c = self.E, self.V, self.U, self.W, self.b, self.c
        x = T.ivector('x')
        y = T.ivector('y')

        def layer(x_in, s_prev, k):
            z = T.nnet.hard_sigmoid(U[k].dot(x_in) + W[k].dot(s_prev) + b[k])
            r = T.nnet.hard_sigmoid(U[k + 1].dot(x_in) + W[k + 1].dot(s_prev) + b[k + 1])
            h = T.tanh(U[k + 2].dot(x_in) + W[k + 2].dot(s_prev * r) + b[k + 2])
            return (T.ones_like(z) - z) * h + z * s_prev

        def forward_prop_step(x_t, s_t1_prev, s_t2_prev):
            x_e = E[:, x_t]                            # word embedding
            s_t1 = layer(x_e, s_t1_prev, 0)
            s_t2 = layer(s_t1, s_t2_prev, 3)
            o_t = T.nnet.softmax(V.dot(s_t2) + c)[0]
            return [o_t, s_t1, s_t2]

        [o, s, s2], updates = theano.scan(
            forward_prop_step,
            sequences=x,
            truncate_gradient=self.bptt_truncate,
            outputs_info=[None,
                          dict(initial=T.zeros(self.hidden_dim)),
                          dict(initial=T.zeros(self.hidden_dim))])

        prediction = T.argmax(o, axis=1)
        o_error = T.sum(T.nnet.categorical_crossentropy(o, y))
        cost = o_error

        dE = T.grad(cost, E)
        dU = T.grad(cost, U)
        dW = T.grad(cost, W)
        db = T.grad(cost, b)
        dV = T.grad(cost, V)
        dc = T.grad(cost, c)

        self.predict = theano.function([x], o)
        self.predict_class = theano.function([x], prediction)
        self.ce_error = theano.function([x, y], cost)
        self.bptt = theano.function([x, y], [dE, dU, dW, db, dV, dc])

        learning_rate = T.scalar('learning_rate')
        decay = T.scalar('decay')
        mE = decay * self.mE + (1 - decay) * dE ** 2
        mU = decay * self.mU + (1 - decay) * dU ** 2
        mW = decay * self.mW + (1 - decay) * dW ** 2
        mV = decay * self.mV + (1 - decay) * dV ** 2
        mb = decay * self.mb + (1 - decay) * db ** 2
        mc = decay * self.mc + (1 - decay) * dc ** 2

        self.sgd_step = theano.function(
            [x, y, learning_rate, theano.Param(decay, default=0.9)],
            [],
            updates=[(E, E - learning_rate * dE / T.sqrt(mE + 1e-6)),
                     (U, U - learning_rate * dU / T.sqrt(mU + 1e-6)),
                     (W, W - learning_rate * dW / T.sqrt(mW + 1e-6)),
                     (V, V - learning_rate * dV / T.sqrt(mV + 1e-6)),
                     (b, b - learning_rate * db / T.sqrt(mb + 1e-6)),
                     (c, c - learning_rate * dc / T.sqrt(mc + 1e-6)),
                     (self.mE, mE),
                     (self.mU, mU),
                     (self.mW, mW),
                     (self.mV, mV),
                     (self.mb, mb),
                     (self.mc, mc)])

    def calculate_total_loss(self, X, Y):
        return np.sum([self.ce_error(x, y) for x, y in zip(X, Y)])

    def calculate_loss(self, X, Y):
        num_words = np.sum([len(y) for y in Y])
        return self.calculate_total_loss(X, Y) / float(num_words)
