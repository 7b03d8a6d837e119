using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

public class MuonTests
{
    [Theory]
    [InlineData(48, 128)]
    [InlineData(128, 48)]
    public void Orthogonalize_keeps_the_directions_and_evens_out_their_sizes(int rows, int columns)
    {
        manual_seed(5);
        using var scope = NewDisposeScope();
        // Columns of very different sizes: the raw update's singular values spread over two orders of magnitude.
        var update = randn(rows, columns) * logspace(-1, 1, columns).unsqueeze(0);
        var before = linalg.svdvals(update);
        var spreadBefore = (before.max() / before.min()).item<float>();
        Assert.True(spreadBefore > 20, $"spread {spreadBefore}");

        var orthogonal = Muon.Orthogonalize(update);

        Assert.Equal(update.shape, orthogonal.shape);
        // Muon.Iterations steps bring the large singular values to about 1 and lift the small ones a long way toward it.
        var after = linalg.svdvals(orthogonal);
        Assert.InRange(after.max().item<float>(), 0.7f, 1.3f);
        var spreadAfter = (after.max() / after.min()).item<float>();
        Assert.True(spreadAfter < spreadBefore / 5, $"spread {spreadBefore} before, {spreadAfter} after");
        // The same singular vectors: near U·Vᵀ of the update (0.91 with three steps and this spread; an unrelated matrix is near 0).
        var (u, _, vh) = linalg.svd(update, fullMatrices: false);
        var polar = u.mm(vh);
        var cosine = (orthogonal * polar).sum() / (orthogonal.norm() * polar.norm());
        Assert.True(cosine.item<float>() > 0.85f, $"cosine {cosine.item<float>()}");
    }

    [Fact]
    public void Only_the_projections_inside_the_layers_take_Muons_step()
    {
        using var model = new LlamaForCausalLM(new LlamaConfig { VocabSize = 64, HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 2, NumKvHeads = 2, MaxPositions = 32 });
        var chosen = model.named_parameters().Where(p => Muon.AppliesTo(p.name, p.parameter)).Select(p => p.name).ToList();
        Assert.Equal(2 * 7, chosen.Count); // q, k, v, o, gate, up, down in each of two layers
        Assert.All(chosen, name => Assert.EndsWith("_proj.weight", name));
        Assert.DoesNotContain(model.named_parameters(), p => Muon.AppliesTo(p.name, p.parameter) && (p.name.Contains("embed") || p.name.Contains("norm")));
    }

    [Fact]
    public void Tiny_runs_from_scratch_use_Muon_and_the_rest_AdamW_unless_told()
    {
        var scratch = new TrainingOptions { DataPath = "data.txt", RunDirectory = "run" };
        var (tiny, small) = (ModelPresets.Get("tiny"), ModelPresets.Get("small"));
        Assert.Equal(MatrixOptimizer.Muon, Muon.For(scratch, tiny));
        Assert.Equal(MatrixOptimizer.AdamW, Muon.For(scratch, small)); // not measured there, and it costs more of a step
        Assert.Equal(MatrixOptimizer.AdamW, Muon.For(scratch with { BaseModel = "base" }, null));
        Assert.Equal(MatrixOptimizer.AdamW, Muon.For(scratch.AsLanguagePhase(), tiny));
        Assert.Equal(MatrixOptimizer.AdamW, Muon.For(scratch with { Optimizer = MatrixOptimizer.AdamW }, tiny));
        Assert.Equal(MatrixOptimizer.Muon, Muon.For(scratch with { Optimizer = MatrixOptimizer.Muon }, small));
    }

    [Fact]
    public void A_Muon_step_moves_a_layer_matrix_by_the_size_it_promises()
    {
        manual_seed(7);
        using var weight = randn(32, 96).requires_grad_(true);
        using (var loss = (weight * randn(32, 96)).sum()) loss.backward();
        using var optimizer = new AdamW([("model.layers.0.mlp.up_proj.weight", weight)], weightDecay: 0) { Muon = true };
        using var before = weight.detach().clone();
        optimizer.Update(0.01);
        using var step = weight.detach() - before;
        var rms = step.square().mean().sqrt().item<float>();
        // Muon.UpdateRms at learning rate 1; an orthogonal 32 x 96 matrix scaled by Muon.Scale, to within the iteration's spread.
        Assert.InRange(rms, 0.01 * Muon.UpdateRms * 0.6, 0.01 * Muon.UpdateRms * 1.3);
    }
}
