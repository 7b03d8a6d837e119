using TorchSharp;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>
/// AdamW with decoupled weight decay applied only to matrices (not norms), written out so that its whole state
/// (moments and step) goes into our checkpoint file and a resumed run continues exactly. With <see cref="Muon"/> on,
/// the matrices inside the decoder layers take Muon's step instead, their momentum kept where AdamW keeps its first
/// moment (the checkpoint's tensors keep their names and shapes).
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly (string Name, Tensor Param, Tensor M, Tensor V, bool Decay, double LrScale, Tensor GradientHolder, bool MuonMatrix)[] _slots;
    private readonly double _beta1, _beta2, _eps;

    public long Step { get; private set; }

    /// <summary>Decoupled weight decay; a run may raise it once its schedule is known (<see cref="RepetitionWeightDecay"/>).</summary>
    public double WeightDecay { get; set; }

    /// <summary>Whether the matrices inside the decoder layers take <see cref="Training.Muon"/>'s step (set before the first step; a resumed run sets what its checkpoint says).</summary>
    public bool Muon { get; set; }

    /// <param name="learningRateScale">A factor on the learning rate for some parameters by name (null: 1 for all).</param>
    /// <param name="gradientsFrom">For some parameters by name, another tensor whose gradient is theirs (the bfloat16
    /// copy of <see cref="BFloat16Steps"/>); null: each parameter's own gradient.</param>
    public AdamW(IEnumerable<(string Name, Tensor Parameter)> parameters, double weightDecay, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8, Func<string, double>? learningRateScale = null,
        IReadOnlyDictionary<string, Tensor>? gradientsFrom = null)
    {
        _beta1 = beta1; _beta2 = beta2; _eps = eps; WeightDecay = weightDecay;
        _slots = parameters.Select(p => (p.Name, p.Parameter, zeros_like(p.Parameter).DetachFromDisposeScope(), zeros_like(p.Parameter).DetachFromDisposeScope(), p.Parameter.dim() >= 2,
            learningRateScale?.Invoke(p.Name) ?? 1.0, gradientsFrom?.GetValueOrDefault(p.Name) ?? p.Parameter, Training.Muon.AppliesTo(p.Name, p.Parameter))).ToArray();
    }

    public void Update(double lr)
    {
        Step++;
        var bc1 = 1 - Math.Pow(_beta1, Step);
        var bc2Sqrt = Math.Sqrt(1 - Math.Pow(_beta2, Step));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        foreach (var (_, p, m, v, decay, scale, holder, muonMatrix) in _slots)
        {
            var g = holder.grad;
            if (g is null) continue;
            if (g.dtype != p.dtype) g = g.to(p.dtype);
            if (Muon && muonMatrix)
            {
                m.mul_(Training.Muon.Momentum).add_(g);
                var update = Training.Muon.Orthogonalize(g.add(m, alpha: Training.Muon.Momentum)); // Nesterov: the gradient plus the momentum it leads to
                if (decay && WeightDecay > 0) p.mul_(1 - lr * scale * WeightDecay);
                p.add_(update, alpha: -lr * scale * Training.Muon.Scale(p));
                continue;
            }
            m.mul_(_beta1).add_(g, alpha: 1 - _beta1);
            v.mul_(_beta2).addcmul_(g, g, value: 1 - _beta2);
            if (decay && WeightDecay > 0) p.mul_(1 - lr * scale * WeightDecay);
            var denom = (v.sqrt() / bc2Sqrt).add_(_eps);
            p.addcdiv_(m, denom, value: -lr * scale / bc1);
        }
    }

    public void ZeroGrad()
    {
        foreach (var slot in _slots) slot.GradientHolder.grad?.zero_();
    }

    /// <summary>Moments as named tensors ("adam.m.NAME", "adam.v.NAME") for the checkpoint.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> StateTensors() =>
        _slots.SelectMany(s => new[] { ($"adam.m.{s.Name}", s.M), ($"adam.v.{s.Name}", s.V) });

    public void LoadState(long step, Func<string, Tensor> tensorByName)
    {
        using var _ = no_grad();
        foreach (var (name, _, m, v, _, _, _, _) in _slots)
        {
            m.copy_(tensorByName($"adam.m.{name}"));
            v.copy_(tensorByName($"adam.v.{name}"));
        }
        Step = step;
    }

    public void Dispose()
    {
        foreach (var s in _slots) { s.M.Dispose(); s.V.Dispose(); }
    }
}
