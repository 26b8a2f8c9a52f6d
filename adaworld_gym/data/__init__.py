"""Video and interaction data: episode datasets on disk, collection, and clip loaders for training."""

from adaworld_gym.data.clips import ClipDataset, LiveClipStream
from adaworld_gym.data.collect import CollectConfig, collect, ingest_videos
from adaworld_gym.data.episodes import CorruptEpisodeError, DatasetInfo, Episode, EpisodeStore, read_episode

__all__ = ["ClipDataset", "CollectConfig", "CorruptEpisodeError", "DatasetInfo", "Episode", "EpisodeStore",
           "LiveClipStream", "collect", "ingest_videos", "read_episode"]
