using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SlmStudio.Core.Models;

// A Llama-style decoder in the spirit of nanoGPT's model.py. Field names are Hugging Face LlamaForCausalLM's
// parameter names (TorchSharp names parameters after fields), so Llama state dicts move both ways without renaming;
// the other families (Qwen2, Mistral, Phi-3, Phi-2) are this model with the options of LlamaConfig switched on, and
// CheckpointLayout maps their parameter names and fused tensors onto these.
#pragma warning disable IDE1006 // field names are the checkpoint's parameter names

/// <summary>Root-mean-square layer norm, computed in float32 as Hugging Face does.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(long size, double eps) : base(nameof(RmsNorm))
    {
        weight = nn.Parameter(ones(size));
        _eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (x.dtype != ScalarType.Float32) // bfloat16 steps: the mean of squares needs float32's precision
        {
            var wide = x.to(ScalarType.Float32);
            return ((wide * rsqrt(wide.pow(2).mean([-1], keepdim: true) + _eps)).to(x.dtype) * weight).MoveToOuterDisposeScope();
        }
        var variance = x.pow(2).mean([-1], keepdim: true);
        return (x * rsqrt(variance + _eps) * weight).MoveToOuterDisposeScope();
    }
}

/// <summary>The norm the config asks for: RMSNorm, or LayerNorm with weight and bias (Phi-2).</summary>
internal static class Norms
{
    public static nn.Module<Tensor, Tensor> Create(LlamaConfig c) =>
        c.Norm == NormKind.LayerNorm ? nn.LayerNorm(c.HiddenSize, c.RmsNormEps) : new RmsNorm(c.HiddenSize, c.RmsNormEps);
}

/// <summary>Keys and values of earlier positions, one pair per layer, shaped (B, kv_heads, T_past, head_dim).</summary>
public sealed class KvCache(int layers) : IDisposable
{
    public Tensor?[] Keys { get; } = new Tensor?[layers];
    public Tensor?[] Values { get; } = new Tensor?[layers];
    public long Length => Keys[0]?.shape[2] ?? 0;

    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        var newK = Keys[layer] is { } pk ? cat([pk, k], 2) : k.alias();
        var newV = Values[layer] is { } pv ? cat([pv, v], 2) : v.alias();
        Keys[layer]?.Dispose();
        Values[layer]?.Dispose();
        Keys[layer] = newK.DetachFromDisposeScope();
        Values[layer] = newV.DetachFromDisposeScope();
        return (newK, newV);
    }

    public void Dispose()
    {
        foreach (var t in Keys.Concat(Values)) t?.Dispose();
        Array.Clear(Keys);
        Array.Clear(Values);
    }
}

// Projections are invoked with call(), not forward(), so that forward hooks run: LoRA adapters (LoraAdapters) add
// their low-rank update to a projection's output through a hook, leaving the model's own parameters and names as they are.
public sealed class LlamaAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly int _heads, _kvHeads, _headDim, _layer;

    public LlamaAttention(LlamaConfig c, int layer) : base(nameof(LlamaAttention))
    {
        _heads = c.NumHeads; _kvHeads = c.NumKvHeads; _headDim = c.HeadDim; _layer = layer;
        q_proj = nn.Linear(c.HiddenSize, c.NumHeads * c.HeadDim, hasBias: c.QkvBias);
        k_proj = nn.Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, hasBias: c.QkvBias);
        v_proj = nn.Linear(c.HiddenSize, c.NumKvHeads * c.HeadDim, hasBias: c.QkvBias);
        o_proj = nn.Linear(c.NumHeads * c.HeadDim, c.HiddenSize, hasBias: c.OutputProjectionBias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("Call Forward(x, rope, cache).");

    /// <param name="windowMask">(T, past+T) positions each new one may see, when a sliding window limits them; null: plain causal.</param>
    public Tensor Forward(Tensor x, Rotary rope, KvCache? cache, Tensor? windowMask = null)
    {
        var (B, T, _) = (x.shape[0], x.shape[1], x.shape[2]);
        var q = q_proj.call(x).view(B, T, _heads, _headDim).transpose(1, 2);   // (B, H, T, hd)
        var k = k_proj.call(x).view(B, T, _kvHeads, _headDim).transpose(1, 2); // (B, KV, T, hd)
        var v = v_proj.call(x).view(B, T, _kvHeads, _headDim).transpose(1, 2); // (B, KV, T, hd)
        q = rope.Apply(q);
        k = rope.Apply(k);
        var past = rope.Start; // the cache length before this pass; layers append as they go
        if (cache is not null) (k, v) = cache.Append(_layer, k, v);               // (B, KV, past+T, hd)
        if (_kvHeads != _heads)
        {
            // Grouped-query attention: each key/value head serves heads/kv_heads query heads (HF repeat_kv).
            var rep = _heads / _kvHeads;
            var S = k.shape[2];
            k = k.unsqueeze(2).expand(B, _kvHeads, rep, S, _headDim).reshape(B, _heads, S, _headDim);
            v = v.unsqueeze(2).expand(B, _kvHeads, rep, S, _headDim).reshape(B, _heads, S, _headDim);
        }
        Tensor y;
        if (windowMask is not null) y = F.scaled_dot_product_attention(q, k, v, attn_mask: windowMask);
        else if (past == 0) y = F.scaled_dot_product_attention(q, k, v, is_casual: true);
        else if (T == 1) y = F.scaled_dot_product_attention(q, k, v);
        else
        {
            // New positions see every cached position and the causal part of themselves.
            var mask = ones(T, past + T, dtype: ScalarType.Bool, device: x.device).tril(past);
            y = F.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        }
        y = y.transpose(1, 2).contiguous().view(B, T, _heads * _headDim);          // (B, T, H*hd)
        return o_proj.call(y);
    }
}

public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear? gate_proj; // absent in a plain (ungated) MLP such as Phi-2's fc1/fc2
    private readonly Linear up_proj;
    private readonly Linear down_proj;
    private readonly string _activation;

    public LlamaMlp(LlamaConfig c) : base(nameof(LlamaMlp))
    {
        if (c.GatedMlp) gate_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: c.MlpBias);
        up_proj = nn.Linear(c.HiddenSize, c.IntermediateSize, hasBias: c.MlpBias);
        down_proj = nn.Linear(c.IntermediateSize, c.HiddenSize, hasBias: c.MlpBias);
        _activation = c.Activation;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => gate_proj is null
        ? down_proj.call(Activate(up_proj.call(x)))                               // fc2(act(fc1(x)))
        : down_proj.call(Activate(gate_proj.call(x)) * up_proj.call(x));       // SwiGLU

    private Tensor Activate(Tensor x) => _activation == "gelu_new" ? GeluNew(x) : F.silu(x);

    /// <summary>GELU with the tanh approximation (Hugging Face "gelu_new"), written out so it is the exact formula the ONNX graph uses.</summary>
    internal static Tensor GeluNew(Tensor x) => 0.5 * x * (1.0 + tanh(Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x.pow(3))));
}

public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly nn.Module<Tensor, Tensor>? post_attention_layernorm; // absent in a parallel block
    private readonly LlamaMlp mlp;

    public LlamaDecoderLayer(LlamaConfig c, int layer) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = Norms.Create(c);
        self_attn = new LlamaAttention(c, layer);
        if (!c.ParallelBlock) post_attention_layernorm = Norms.Create(c);
        mlp = new LlamaMlp(c);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("Call Forward(x, rope, cache).");

    /// <summary>Dropout on what attention and the MLP add to the residual stream, in training mode only (nanoGPT's resid_dropout).</summary>
    public double ResidualDropout { get; set; }

    public Tensor Forward(Tensor x, Rotary rope, KvCache? cache, Tensor? windowMask = null)
    {
        if (post_attention_layernorm is null)
        {
            // Parallel block (Phi-2): attention and MLP both read the same normalised input.
            var h = input_layernorm.forward(x);
            return x + Dropped(self_attn.Forward(h, rope, cache, windowMask)) + Dropped(mlp.forward(h));
        }
        x = x + Dropped(self_attn.Forward(input_layernorm.forward(x), rope, cache, windowMask));
        return x + Dropped(mlp.forward(post_attention_layernorm.forward(x)));
    }

    private Tensor Dropped(Tensor branch) => training && ResidualDropout > 0 ? F.dropout(branch, ResidualDropout, training: true) : branch;
}

/// <summary>
/// Rotary position embeddings for one forward pass, in Hugging Face's rotate_half convention, on the first
/// <see cref="LlamaConfig.RotaryDim"/> dimensions of each head (all of them unless the rotary is partial).
/// </summary>
public sealed class Rotary
{
    private readonly Tensor _cos, _sin; // (T, rotary_dim)
    private readonly int _rotaryDim;

    public long Start { get; }

    public Rotary(LlamaConfig c, long start, long length, Device device)
    {
        Start = start;
        _rotaryDim = c.RotaryDim;
        var invFreq = tensor(c.RopeInverseFrequencies(), dtype: ScalarType.Float64, device: device);
        var positions = arange(start, start + length, dtype: ScalarType.Float64, device: device);
        var freqs = outer(positions, invFreq);                                      // (T, rd/2)
        var emb = cat([freqs, freqs], -1);                                          // (T, rd)
        _cos = emb.cos().to(ScalarType.Float32);
        _sin = emb.sin().to(ScalarType.Float32);
    }

    public Tensor Apply(Tensor x) // (B, H, T, hd)
    {
        var headDim = x.shape[^1];
        var rot = _rotaryDim == headDim ? x : x.narrow(-1, 0, _rotaryDim);          // (B, H, T, rd)
        var half = _rotaryDim / 2;
        var rotated = cat([-rot.narrow(-1, half, half), rot.narrow(-1, 0, half)], -1);
        // Tables are float32; bfloat16 training steps must not be promoted back to float32 here.
        var (cos, sin) = x.dtype == _cos.dtype ? (_cos, _sin) : (_cos.to(x.dtype), _sin.to(x.dtype));
        var embedded = rot * cos + rotated * sin;
        return _rotaryDim == headDim ? embedded : cat([embedded, x.narrow(-1, _rotaryDim, headDim - _rotaryDim)], -1);
    }
}

public sealed class LlamaModel : nn.Module<Tensor, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly nn.Module<Tensor, Tensor> norm;
    private readonly LlamaConfig _config;

    public LlamaModel(LlamaConfig c) : base(nameof(LlamaModel))
    {
        _config = c;
        embed_tokens = nn.Embedding(c.VocabSize, c.HiddenSize);
        layers = nn.ModuleList(Enumerable.Range(0, c.NumLayers).Select(i => new LlamaDecoderLayer(c, i)).ToArray());
        norm = Norms.Create(c);
        RegisterComponents();
    }

    public Parameter EmbeddingWeight => embed_tokens.weight!;

    /// <inheritdoc cref="LlamaDecoderLayer.ResidualDropout"/>
    public double ResidualDropout
    {
        get => layers.Count == 0 ? 0 : layers[0].ResidualDropout;
        set { foreach (var layer in layers) layer.ResidualDropout = value; }
    }

    public override Tensor forward(Tensor ids) => Forward(ids, null);

    public Tensor Forward(Tensor ids, KvCache? cache)                               // ids (B, T)
    {
        var past = cache?.Length ?? 0;
        var rope = new Rotary(_config, past, ids.shape[1], ids.device);
        using var windowMask = SlidingWindowMask(past, ids.shape[1], ids.device);
        var x = embed_tokens.forward(ids);                                          // (B, T, C)
        var autograd = is_grad_enabled();
        foreach (var layer in layers) x = autograd ? layer.Forward(x, rope, cache, windowMask) : WithoutIntermediates(layer, x, rope, cache, windowMask);
        return norm.forward(x);                                                     // (B, T, C)
    }

    /// <summary>
    /// Without autograd nothing reads a layer's intermediates once it has returned, yet the caller's dispose scope would
    /// keep every layer's until the whole pass is over: the attention scores of all layers at once made an evaluation of
    /// the small preset (16 windows of 256 tokens, float32) 0.6 GB larger than a training step.
    /// </summary>
    private static Tensor WithoutIntermediates(LlamaDecoderLayer layer, Tensor x, Rotary rope, KvCache? cache, Tensor? windowMask)
    {
        using var scope = NewDisposeScope();
        return scope.MoveToOuter(layer.Forward(x, rope, cache, windowMask));
    }

    /// <summary>
    /// (T, past+T): new position i (absolute past+i) sees key j when i-window &lt; j &lt;= i, as transformers masks
    /// Mistral. The cache keeps every position; the mask is what confines attention to the window, in prefill and
    /// decoding alike. Null when there is no window or it cannot bind yet (then plain causal attention is the same).
    /// </summary>
    private Tensor? SlidingWindowMask(long past, long length, Device device)
    {
        if (_config.SlidingWindow is not int window || past + length <= window) return null;
        var query = arange(past, past + length, dtype: ScalarType.Int64, device: device).unsqueeze(1); // (T, 1)
        var key = arange(0, past + length, dtype: ScalarType.Int64, device: device).unsqueeze(0);      // (1, S)
        return (key <= query).logical_and(key > query - window);
    }
}

/// <summary>The language model: backbone plus output head (tied to the input embedding when configured).</summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, Tensor>
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;

    public LlamaConfig Config { get; }

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM))
    {
        config.Validate();
        Config = config;
        model = new LlamaModel(config);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: config.LmHeadBias);
        RegisterComponents();
    }

    /// <summary>
    /// Dropout on every layer's residual branches in training mode. Set by the trainer rather than the config: whether a
    /// run needs it depends on how often it will read its text, which a time budget only tells once speed is measured.
    /// Saved models never carry it (inference does not drop).
    /// </summary>
    public double ResidualDropout { get => model.ResidualDropout; set => model.ResidualDropout = value; }

    /// <summary>Logits (B, T, V) for token ids (B, T).</summary>
    public override Tensor forward(Tensor ids) => Forward(ids, null);

    /// <summary>Logits for new tokens, continuing after the positions held in <paramref name="cache"/> (and appending to it).</summary>
    public Tensor Forward(Tensor ids, KvCache? cache)
    {
        var h = model.Forward(ids, cache);                                          // (B, T, C)
        return lm_head is null ? F.linear(h, model.EmbeddingWeight) : lm_head.forward(h); // (B, T, V)
    }

    /// <summary>GPT-2 style initialisation: N(0, 0.02), residual output projections scaled by 1/sqrt(2·layers).</summary>
    public void InitializeWeights(long seed)
    {
        manual_seed(seed);
        using var _ = no_grad();
        var residualStd = 0.02 / Math.Sqrt(2.0 * Config.NumLayers);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else if (name.EndsWith("o_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal))
                nn.init.normal_(p, 0, residualStd);
            else nn.init.normal_(p, 0, 0.02);
        }
    }
}
