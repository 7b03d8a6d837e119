using SlmStudio.Core.Models;
using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

public class WeightAverageTests
{
    private static LlamaForCausalLM Model()
    {
        var model = new LlamaForCausalLM(new LlamaConfig { VocabSize = 50, HiddenSize = 16, IntermediateSize = 32, NumLayers = 1, NumHeads = 2, NumKvHeads = 2, MaxPositions = 8 });
        model.InitializeWeights(1);
        return model;
    }

    private static float[] First(LlamaForCausalLM model) => model.parameters().First().detach().data<float>().ToArray();

    private static void SetAll(LlamaForCausalLM model, float value)
    {
        using var _ = no_grad();
        foreach (var p in model.parameters()) p.fill_(value);
    }

    [Fact]
    public void The_average_moves_toward_the_weights_by_the_step_s_share_and_is_only_in_the_model_while_applied()
    {
        using var model = Model();
        SetAll(model, 1f);
        using var average = new WeightAverage(model);
        SetAll(model, 3f);
        average.Update(1); // decay 2/11: the average keeps 2/11 of 1 and takes 9/11 of 3
        var expected = 1f * 2f / 11f + 3f * 9f / 11f;

        using (average.Applied())
            Assert.All(First(model), v => Assert.Equal(expected, v, 1e-5f));
        Assert.All(First(model), v => Assert.Equal(3f, v));
        Assert.Equal(WeightAverage.Decay, WeightAverage.DecayAt(10_000));
    }

    [Fact]
    public void A_checkpoint_keeps_the_average_and_one_without_it_starts_from_the_weights()
    {
        using var model = Model();
        using var average = new WeightAverage(model);
        SetAll(model, 2f);
        average.Update(500);
        var saved = average.Tensors().ToDictionary(t => t.Name);
        Assert.All(saved.Keys, name => Assert.StartsWith(WeightAverage.CheckpointPrefix, name));

        using var other = Model();
        SetAll(other, 5f);
        using var resumed = new WeightAverage(other);
        resumed.Load(saved);
        using (resumed.Applied())
        using (average.Applied())
            Assert.Equal(First(model), First(other));

        resumed.Load(new Dictionary<string, NamedTensor>());
        using (resumed.Applied())
            Assert.All(First(other), v => Assert.Equal(5f, v));
    }
}
