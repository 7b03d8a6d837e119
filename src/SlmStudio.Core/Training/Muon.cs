using System.Text.Json.Serialization;
using SlmStudio.Core.Models;
using static TorchSharp.torch;

namespace SlmStudio.Core.Training;

/// <summary>How the weight matrices inside the decoder layers are updated; everything else always takes AdamW's step.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MatrixOptimizer>))]
public enum MatrixOptimizer
{
    AdamW,
    /// <summary><see cref="Muon"/>.</summary>
    Muon,
}

/// <summary>
/// Muon (Jordan et al., 2024): a weight matrix inside a decoder layer steps along its momentum made orthogonal (every
/// direction of the update the same size, by a Newton–Schulz iteration), scaled to a fixed size as Liu et al. (2025,
/// "Muon is scalable for LLM training") do, so that it shares AdamW's learning rate, schedule and weight decay.
/// Embeddings, the output layer and the norms keep AdamW.
/// <para>
/// Measured (<c>slm train --preset tiny --max-steps N --optimizer adamw|muon</c>, 1 MB of <c>fortunes</c>, fixed steps,
/// best validation bits per character, the run's other rules as they are): 1,300 steps with AdamW 2.1268; with Muon at
/// an update size of 0.2 (AdamW's usual) 2.1267, 0.4 2.1143, 0.6 2.1108 (2.1095 with three Newton–Schulz steps instead
/// of five). Its products cost about 12% of a tiny step on two cores (1,300 steps in 450 s against 411 s), so the fair
/// comparison is in equal time: Muon's 1,150 steps 2.1158 against AdamW's 1,300 steps 2.1268. At 0.8 (three steps)
/// 2.1202, so 0.6 stays. The 5-minute default (<c>--minutes 5 --preset auto</c>, one hour of the machine): 1 MB of
/// <c>fortunes</c> 2.1138 against AdamW's 2.1325, the Jargon File 1.9418 against 1.9658.
/// </para>
/// </summary>
public static class Muon
{
    public const double Momentum = 0.95;

    /// <summary>The root-mean-square size of a matrix's update at learning rate 1 (AdamW's are about 0.2–0.4); 0.4 and 0.8 measured worse.</summary>
    public const double UpdateRms = 0.6;

    /// <summary>
    /// Newton–Schulz steps with these coefficients (Jordan's): three measured as good as five (2.1095 against 2.1108
    /// above) and cost less, for the products of the iteration are a tenth of a tiny step.
    /// </summary>
    public const int Iterations = 3;
    private const double A = 3.4445, B = -4.7750, C = 2.0315;

    /// <summary>
    /// What a run uses: its own choice, else its preset's from scratch (Muon for tiny, where it is measured; small keeps
    /// AdamW: Muon leads it step for step, 2.343 against 2.586 after 250 steps on 2 MB, but its slower steps lose that lead
    /// in equal time, 2.1268 against AdamW's 2.1171 in 20 minutes on the same text) and AdamW for fine-tuning (not measured).
    /// </summary>
    public static MatrixOptimizer For(TrainingOptions run, ModelPreset? preset) =>
        run.Optimizer ?? (run.BaseModel is null && run.Lora is null && preset is not null ? preset.Optimizer : MatrixOptimizer.AdamW);

    /// <summary>The projections of attention and the MLP inside each decoder layer.</summary>
    public static bool AppliesTo(string parameterName, Tensor parameter) =>
        parameter.dim() == 2 && parameterName.Contains("layers.", StringComparison.Ordinal) && parameterName.EndsWith("_proj.weight", StringComparison.Ordinal);

    /// <summary>The factor on an orthogonalised (rows, columns) update that gives it <see cref="UpdateRms"/>.</summary>
    public static double Scale(Tensor parameter) => UpdateRms * Math.Sqrt(Math.Max(parameter.shape[0], parameter.shape[1]));

    /// <summary>
    /// The matrix with the same singular vectors as <paramref name="update"/> and its singular values evened out: the
    /// large ones to about 1, the small ones lifted toward it (<see cref="Iterations"/> steps do not bring a direction
    /// a hundred times weaker all the way).
    /// </summary>
    public static Tensor Orthogonalize(Tensor update)
    {
        using var scope = NewDisposeScope();
        var wide = update.shape[0] <= update.shape[1];
        var x = update / (update.norm() + 1e-7);        // singular values at most 1, where the iteration converges
        if (!wide) x = x.t();                              // (small, large): the products below stay small x small
        for (int i = 0; i < Iterations; i++)
        {
            var gram = x.mm(x.t());                        // (small, small)
            x = x * A + (gram * B + gram.mm(gram) * C).mm(x);
        }
        return (wide ? x : x.t()).MoveToOuterDisposeScope();
    }
}
