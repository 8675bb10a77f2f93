"""tests/gpu/torch/models.py - the small models tests/gpu/torch/check.py trains
and bench/torch.py times, with their synthetic data.

Every operation was chosen to have a deterministic CUDA implementation
under torch.use_deterministic_algorithms(True): no pooling (its backward
uses atomics), no embedding lookup or NLL loss (scatter-adds); tokens enter
as one-hot rows through a Linear, and the loss is cross-entropy written as
-(one_hot * log_softmax).sum(). With cuDNN deterministic and a fixed cuBLAS
workspace the whole loss curve is then a function of the seed alone.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    """Two 3x3 convolutions (the second strided), a global mean, a Linear."""

    def __init__(self, classes=10):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(32, 32, 3, padding=1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.relu(self.c2(x))
        x = F.relu(self.c3(x))
        return self.fc(x.mean((2, 3)))


class SmallTransformer(nn.Module):
    """A causal transformer over one-hot tokens: Linear embedding, learned
    positions, pre-norm encoder layers (attention through
    scaled_dot_product_attention), a Linear head."""

    def __init__(self, vocab=64, d=64, heads=4, layers=2, seq=32):
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Linear(vocab, d, bias=False)
        self.pos = nn.Parameter(torch.zeros(seq, d))
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq),
                             persistent=False)

    def forward(self, onehot):
        x = self.embed(onehot) + self.pos[: onehot.shape[1]]
        n = onehot.shape[1]
        return self.head(self.body(x, mask=self.mask[:n, :n], is_causal=True))


def xent(logits, onehot):
    """Cross-entropy against one-hot targets, without a scatter-add backward."""
    return -(onehot * F.log_softmax(logits, dim=-1)).sum(-1).mean()


def cnn_batch(step, batch=32, classes=10, device="cuda"):
    """Images whose class is which quadrant-and-channel pattern they hold."""
    g = torch.Generator().manual_seed(1000 + step)
    y = torch.randint(0, classes, (batch,), generator=g)
    x = torch.randn(batch, 3, 32, 32, generator=g) * 0.5
    for i, c in enumerate(y.tolist()):
        x[i, c % 3, :, : 3 * (c + 1)] += 1.0
    return x.to(device), F.one_hot(y, classes).float().to(device)


def lm_batch(step, batch=16, seq=32, vocab=64, device="cuda"):
    """Sequences t_{i+1} = (3 t_i + 1) mod vocab from a random start: the
    next token is a function of the current one, so the loss falls fast."""
    g = torch.Generator().manual_seed(2000 + step)
    t = torch.empty(batch, seq + 1, dtype=torch.long)
    t[:, 0] = torch.randint(0, vocab, (batch,), generator=g)
    for i in range(seq):
        t[:, i + 1] = (3 * t[:, i] + 1) % vocab
    oh = F.one_hot(t, vocab).float()
    return oh[:, :-1].to(device), oh[:, 1:].to(device)


def make(kind, seed=0, device="cuda", **kw):
    """The model and its optimiser, parameters drawn on the CPU from seed."""
    torch.manual_seed(seed)
    m = (SmallCNN(**kw) if kind == "cnn" else SmallTransformer(**kw)).to(device)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3 if kind == "cnn" else 1e-3)
    return m, opt


def train_step(kind, m, opt, step, **kw):
    x, y = (cnn_batch if kind == "cnn" else lm_batch)(step, **kw)
    opt.zero_grad(set_to_none=True)
    loss = xent(m(x), y)
    loss.backward()
    opt.step()
    return loss.detach()
