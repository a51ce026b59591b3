//! The models of the declarations, as JSON: the seeds' model definitions verbatim (the
//! interface contract), with Asterisk 22's additions beside them where both can hold.
//! Each constant is the `models` object of one resource's declaration.

/// Models of `asterisk.json`.
pub const ASTERISK: &str = r#"
{
 "AsteriskInfo": {
  "properties": {
   "status": {
    "required": false,
    "type": "StatusInfo",
    "description": "Info about Asterisk status"
   },
   "config": {
    "required": false,
    "type": "ConfigInfo",
    "description": "Info about Asterisk configuration"
   },
   "build": {
    "required": false,
    "type": "BuildInfo",
    "description": "Info about how Asterisk was built"
   },
   "system": {
    "required": false,
    "type": "SystemInfo",
    "description": "Info about the system running Asterisk"
   }
  },
  "id": "AsteriskInfo",
  "description": "Asterisk system information"
 },
 "BuildInfo": {
  "properties": {
   "kernel": {
    "required": true,
    "type": "string",
    "description": "Kernel version Asterisk was built on."
   },
   "machine": {
    "required": true,
    "type": "string",
    "description": "Machine architecture (x86_64, i686, ppc, etc.)"
   },
   "user": {
    "required": true,
    "type": "string",
    "description": "Username that build Asterisk"
   },
   "date": {
    "required": true,
    "type": "string",
    "description": "Date and time when Asterisk was built."
   },
   "os": {
    "required": true,
    "type": "string",
    "description": "OS Asterisk was built on."
   },
   "options": {
    "required": true,
    "type": "string",
    "description": "Compile time options, or empty string if default."
   }
  },
  "id": "BuildInfo",
  "description": "Info about how Asterisk was built"
 },
 "ConfigInfo": {
  "properties": {
   "name": {
    "required": true,
    "type": "string",
    "description": "Asterisk system name."
   },
   "default_language": {
    "required": true,
    "type": "string",
    "description": "Default language for media playback."
   },
   "max_load": {
    "required": false,
    "type": "double",
    "description": "Maximum load avg on system."
   },
   "setid": {
    "required": true,
    "type": "SetId",
    "description": "Effective user/group id for running Asterisk."
   },
   "max_open_files": {
    "required": false,
    "type": "int",
    "description": "Maximum number of open file handles (files, sockets)."
   },
   "max_channels": {
    "required": false,
    "type": "int",
    "description": "Maximum number of simultaneous channels."
   }
  },
  "id": "ConfigInfo",
  "description": "Info about Asterisk configuration"
 },
 "SetId": {
  "properties": {
   "group": {
    "required": true,
    "type": "string",
    "description": "Effective group id."
   },
   "user": {
    "required": true,
    "type": "string",
    "description": "Effective user id."
   }
  },
  "id": "SetId",
  "description": "Effective user/group id"
 },
 "StatusInfo": {
  "properties": {
   "last_reload_time": {
    "required": true,
    "type": "Date",
    "description": "Time when Asterisk was last reloaded."
   },
   "startup_time": {
    "required": true,
    "type": "Date",
    "description": "Time when Asterisk was started."
   }
  },
  "id": "StatusInfo",
  "description": "Info about Asterisk status"
 },
 "SystemInfo": {
  "properties": {
   "entity_id": {
    "required": true,
    "type": "string",
    "description": ""
   },
   "version": {
    "required": true,
    "type": "string",
    "description": "Asterisk version."
   }
  },
  "id": "SystemInfo",
  "description": "Info about Asterisk"
 },
 "Variable": {
  "properties": {
   "value": {
    "required": true,
    "type": "string",
    "description": "The value of the variable requested"
   }
  },
  "id": "Variable",
  "description": "The value of a channel variable"
 },
 "AsteriskPing": {
  "id": "AsteriskPing",
  "description": "Asterisk ping information",
  "properties": {
   "asterisk_id": {
    "required": true,
    "type": "string",
    "description": "Asterisk id info"
   },
   "ping": {
    "required": true,
    "type": "string",
    "description": "Always string value is pong"
   },
   "timestamp": {
    "required": true,
    "type": "string",
    "description": "The timestamp string of request received time"
   }
  }
 },
 "Module": {
  "id": "Module",
  "description": "Details of an Asterisk module",
  "properties": {
   "name": {
    "required": true,
    "type": "string",
    "description": "The name of this module"
   },
   "description": {
    "required": true,
    "type": "string",
    "description": "The description of this module"
   },
   "use_count": {
    "required": true,
    "type": "int",
    "description": "The number of times this module is being used"
   },
   "status": {
    "required": true,
    "type": "string",
    "description": "The running status of this module"
   },
   "support_level": {
    "required": true,
    "type": "string",
    "description": "The support state of this module"
   }
  }
 },
 "LogChannel": {
  "id": "LogChannel",
  "description": "Details of an Asterisk log channel",
  "properties": {
   "channel": {
    "required": true,
    "type": "string",
    "description": "The log channel path"
   },
   "type": {
    "required": true,
    "type": "string",
    "description": "Types of logs for the log channel"
   },
   "status": {
    "required": true,
    "type": "string",
    "description": "Whether or not a log type is enabled"
   },
   "configuration": {
    "required": true,
    "type": "string",
    "description": "The various log levels"
   }
  }
 },
 "ConfigTuple": {
  "id": "ConfigTuple",
  "description": "A key/value pair that makes up part of a configuration object.",
  "properties": {
   "attribute": {
    "required": true,
    "type": "string",
    "description": "A configuration object attribute."
   },
   "value": {
    "required": true,
    "type": "string",
    "description": "The value for the attribute."
   }
  }
 }
}
"#;

/// Models of `endpoints.json`.
pub const ENDPOINTS: &str = r#"
{
 "Endpoint": {
  "properties": {
   "resource": {
    "required": true,
    "type": "string",
    "description": "Identifier of the endpoint, specific to the given technology."
   },
   "state": {
    "allowableValues": {
     "valueType": "LIST",
     "values": [
      "unknown",
      "offline",
      "online"
     ]
    },
    "required": false,
    "type": "string",
    "description": "Endpoint's state"
   },
   "technology": {
    "required": true,
    "type": "string",
    "description": "Technology of the endpoint"
   },
   "channel_ids": {
    "required": true,
    "type": "List[string]",
    "description": "Id's of channels associated with this endpoint"
   }
  },
  "id": "Endpoint",
  "description": "An external device that may offer/accept calls to/from Asterisk.\n\nUnlike most resources, which have a single unique identifier, an endpoint is uniquely identified by the technology/resource pair."
 },
 "TextMessage": {
  "id": "TextMessage",
  "description": "A text message.",
  "properties": {
   "from": {
    "required": true,
    "type": "string",
    "description": "A technology specific URI specifying the source of the message. For pjsip technology, any SIP URI can be specified. For xmpp, the URI must correspond to the client connection being used to send the message."
   },
   "to": {
    "required": true,
    "type": "string",
    "description": "A technology specific URI specifying the destination of the message. For pjsip technology, any SIP URI can be specified. For xmpp, the URI must correspond to the client connection being used to send the message."
   },
   "body": {
    "required": true,
    "type": "string",
    "description": "The text of the message."
   },
   "variables": {
    "required": false,
    "type": "object",
    "description": "Technology specific key/value pairs (JSON object) associated with the message."
   }
  }
 }
}
"#;

/// Models of `channels.json`.
pub const CHANNELS: &str = r#"
{
 "Dialed": {
  "id": "Dialed",
  "description": "Dialed channel information.",
  "properties": {}
 },
 "DialplanCEP": {
  "id": "DialplanCEP",
  "description": "Dialplan location (context/extension/priority)",
  "properties": {
   "context": {
    "required": true,
    "type": "string",
    "description": "Context in the dialplan"
   },
   "exten": {
    "required": true,
    "type": "string",
    "description": "Extension in the dialplan"
   },
   "priority": {
    "required": true,
    "type": "long",
    "description": "Priority in the dialplan"
   },
   "app_name": {
    "required": true,
    "type": "string",
    "description": "Name of current dialplan application"
   },
   "app_data": {
    "required": true,
    "type": "string",
    "description": "Parameter of current dialplan application"
   }
  }
 },
 "CallerID": {
  "id": "CallerID",
  "description": "Caller identification",
  "properties": {
   "name": {
    "required": true,
    "type": "string"
   },
   "number": {
    "required": true,
    "type": "string"
   }
  }
 },
 "RTPstat": {
  "id": "RTPstat",
  "description": "A statistics of a RTP.",
  "properties": {
   "txcount": {
    "required": true,
    "type": "int",
    "description": "Number of packets transmitted."
   },
   "rxcount": {
    "required": true,
    "type": "int",
    "description": "Number of packets received."
   },
   "txjitter": {
    "required": false,
    "type": "double",
    "description": "Jitter on transmitted packets."
   },
   "rxjitter": {
    "required": false,
    "type": "double",
    "description": "Jitter on received packets."
   },
   "remote_maxjitter": {
    "required": false,
    "type": "double",
    "description": "Maximum jitter on remote side."
   },
   "remote_minjitter": {
    "required": false,
    "type": "double",
    "description": "Minimum jitter on remote side."
   },
   "remote_normdevjitter": {
    "required": false,
    "type": "double",
    "description": "Average jitter on remote side."
   },
   "remote_stdevjitter": {
    "required": false,
    "type": "double",
    "description": "Standard deviation jitter on remote side."
   },
   "local_maxjitter": {
    "required": false,
    "type": "double",
    "description": "Maximum jitter on local side."
   },
   "local_minjitter": {
    "required": false,
    "type": "double",
    "description": "Minimum jitter on local side."
   },
   "local_normdevjitter": {
    "required": false,
    "type": "double",
    "description": "Average jitter on local side."
   },
   "local_stdevjitter": {
    "required": false,
    "type": "double",
    "description": "Standard deviation jitter on local side."
   },
   "txploss": {
    "required": true,
    "type": "int",
    "description": "Number of transmitted packets lost."
   },
   "rxploss": {
    "required": true,
    "type": "int",
    "description": "Number of received packets lost."
   },
   "remote_maxrxploss": {
    "required": false,
    "type": "double",
    "description": "Maximum number of packets lost on remote side."
   },
   "remote_minrxploss": {
    "required": false,
    "type": "double",
    "description": "Minimum number of packets lost on remote side."
   },
   "remote_normdevrxploss": {
    "required": false,
    "type": "double",
    "description": "Average number of packets lost on remote side."
   },
   "remote_stdevrxploss": {
    "required": false,
    "type": "double",
    "description": "Standard deviation packets lost on remote side."
   },
   "local_maxrxploss": {
    "required": false,
    "type": "double",
    "description": "Maximum number of packets lost on local side."
   },
   "local_minrxploss": {
    "required": false,
    "type": "double",
    "description": "Minimum number of packets lost on local side."
   },
   "local_normdevrxploss": {
    "required": false,
    "type": "double",
    "description": "Average number of packets lost on local side."
   },
   "local_stdevrxploss": {
    "required": false,
    "type": "double",
    "description": "Standard deviation packets lost on local side."
   },
   "rtt": {
    "required": false,
    "type": "double",
    "description": "Total round trip time."
   },
   "maxrtt": {
    "required": false,
    "type": "double",
    "description": "Maximum round trip time."
   },
   "minrtt": {
    "required": false,
    "type": "double",
    "description": "Minimum round trip time."
   },
   "normdevrtt": {
    "required": false,
    "type": "double",
    "description": "Average round trip time."
   },
   "stdevrtt": {
    "required": false,
    "type": "double",
    "description": "Standard deviation round trip time."
   },
   "local_ssrc": {
    "required": true,
    "type": "int",
    "description": "Our SSRC."
   },
   "remote_ssrc": {
    "required": true,
    "type": "int",
    "description": "Their SSRC."
   },
   "txoctetcount": {
    "required": true,
    "type": "int",
    "description": "Number of octets transmitted."
   },
   "rxoctetcount": {
    "required": true,
    "type": "int",
    "description": "Number of octets received."
   },
   "channel_uniqueid": {
    "required": true,
    "type": "string",
    "description": "The Asterisk channel's unique ID that owns this instance."
   }
  }
 },
 "Channel": {
  "id": "Channel",
  "description": "A specific communication connection between Asterisk and an Endpoint.",
  "properties": {
   "id": {
    "required": true,
    "type": "string",
    "description": "Unique identifier of the channel.\n\nThis is the same as the Uniqueid field in AMI."
   },
   "protocol_id": {
    "required": true,
    "type": "string",
    "description": "Protocol id from underlying channel driver (i.e. Call-ID for chan_sip/chan_pjsip; will be empty if not applicable or not implemented by driver)."
   },
   "name": {
    "required": true,
    "type": "string",
    "description": "Name of the channel (i.e. SIP/foo-0000a7e3)"
   },
   "state": {
    "required": true,
    "type": "string",
    "allowableValues": {
     "valueType": "LIST",
     "values": [
      "Down",
      "Rsrved",
      "OffHook",
      "Dialing",
      "Ring",
      "Ringing",
      "Up",
      "Busy",
      "Dialing Offhook",
      "Pre-ring",
      "Unknown"
     ]
    }
   },
   "caller": {
    "required": true,
    "type": "CallerID"
   },
   "connected": {
    "required": true,
    "type": "CallerID"
   },
   "accountcode": {
    "required": true,
    "type": "string"
   },
   "dialplan": {
    "required": true,
    "type": "DialplanCEP",
    "description": "Current location in the dialplan"
   },
   "creationtime": {
    "required": true,
    "type": "Date",
    "description": "Timestamp when channel was created"
   },
   "language": {
    "required": true,
    "type": "string",
    "description": "The default spoken language"
   },
   "channelvars": {
    "required": false,
    "type": "object",
    "description": "Channel variables"
   },
   "caller_rdnis": {
    "type": "string",
    "description": "The Caller ID RDNIS"
   },
   "tenantid": {
    "required": false,
    "type": "string",
    "description": "The Tenant ID for the channel"
   }
  }
 }
}
"#;

/// Models of `bridges.json`.
pub const BRIDGES: &str = r#"
{
 "Bridge": {
  "properties": {
   "channels": {
    "required": true,
    "type": "List[string]",
    "description": "Ids of channels participating in this bridge"
   },
   "bridge_type": {
    "allowableValues": {
     "valueType": "LIST",
     "values": [
      "mixing",
      "holding"
     ]
    },
    "required": true,
    "type": "string",
    "description": "Type of bridge technology"
   },
   "technology": {
    "required": true,
    "type": "string",
    "description": "Name of the current bridging technology"
   },
   "id": {
    "required": true,
    "type": "string",
    "description": "Unique identifier for this bridge"
   },
   "bridge_class": {
    "required": true,
    "type": "string",
    "description": "Bridging class"
   },
   "name": {
    "required": true,
    "type": "string",
    "description": "Name the creator gave the bridge"
   },
   "creator": {
    "required": true,
    "type": "string",
    "description": "Entity that created the bridge"
   },
   "creationtime": {
    "required": true,
    "type": "Date",
    "description": "Timestamp when bridge was created"
   },
   "video_mode": {
    "required": false,
    "type": "string",
    "description": "The video mode the bridge is using. One of 'none', 'talker', 'sfu', or 'single'."
   },
   "video_source_id": {
    "required": false,
    "type": "string",
    "description": "The ID of the channel that is the source of video in this bridge, if one exists."
   }
  },
  "id": "Bridge",
  "description": "The merging of media from one or more channels.\n\nEveryone on the bridge receives the same audio."
 }
}
"#;

/// Models of `recordings.json`.
pub const RECORDINGS: &str = r#"
{
 "LiveRecording": {
  "properties": {
   "state": {
    "required": true,
    "type": "string"
   },
   "name": {
    "required": true,
    "type": "string"
   },
   "format": {
    "required": true,
    "type": "string"
   },
   "target_uri": {
    "required": false,
    "type": "string",
    "description": "URI for the channel or bridge being recorded"
   },
   "duration": {
    "required": false,
    "type": "int",
    "description": "Duration in seconds of the recording"
   },
   "talking_duration": {
    "required": false,
    "type": "int",
    "description": "Duration of talking, in seconds, detected in the recording. This is only available if the recording was initiated with a non-zero maxSilenceSeconds."
   },
   "silence_duration": {
    "required": false,
    "type": "int",
    "description": "Duration of silence, in seconds, detected in the recording. This is only available if the recording was initiated with a non-zero maxSilenceSeconds."
   },
   "cause": {
    "required": false,
    "type": "string",
    "description": "Cause for recording failure if failed"
   }
  },
  "id": "LiveRecording",
  "description": "A recording that is in progress"
 },
 "StoredRecording": {
  "properties": {
   "time": {
    "required": false,
    "type": "Date",
    "description": "Time recording was started"
   },
   "id": {
    "required": true,
    "type": "string"
   },
   "duration_seconds": {
    "required": false,
    "type": "int"
   },
   "formats": {
    "required": true,
    "type": "List[string]"
   },
   "name": {
    "required": false,
    "type": "string",
    "description": "Name of the recording (Asterisk)"
   },
   "format": {
    "required": false,
    "type": "string",
    "description": "Format of the recording (Asterisk)"
   }
  },
  "id": "StoredRecording",
  "description": "A past recording that may be played back."
 }
}
"#;

/// Models of `sounds.json`.
pub const SOUNDS: &str = r#"
{
 "Sound": {
  "properties": {
   "text": {
    "required": false,
    "type": "string",
    "description": "Text description of the sound, usually the words spoken."
   },
   "id": {
    "required": true,
    "type": "string",
    "description": "Sound's identifier."
   },
   "formats": {
    "required": true,
    "type": "List[FormatLangPair]",
    "description": "The formats and languages in which this sound is available."
   }
  },
  "id": "Sound",
  "description": "A media file that may be played back."
 },
 "FormatLangPair": {
  "properties": {
   "language": {
    "required": true,
    "type": "string"
   },
   "format": {
    "required": true,
    "type": "string"
   }
  },
  "id": "FormatLangPair",
  "description": "Identifies the format and language of a sound file"
 }
}
"#;

/// Models of `playbacks.json`.
pub const PLAYBACKS: &str = r#"
{
 "Playback": {
  "properties": {
   "language": {
    "type": "string",
    "description": "For media types that support multiple languages, the language requested for playback."
   },
   "media_uri": {
    "required": true,
    "type": "string",
    "description": "URI for the media to play back."
   },
   "id": {
    "required": true,
    "type": "string",
    "description": "ID for this playback operation"
   },
   "target_uri": {
    "required": true,
    "type": "string",
    "description": "URI for the channel or bridge to play the media on"
   },
   "state": {
    "allowableValues": {
     "valueType": "LIST",
     "values": [
      "queued",
      "playing",
      "complete"
     ]
    },
    "required": true,
    "type": "string",
    "description": "Current state of the playback operation."
   },
   "next_media_uri": {
    "required": false,
    "type": "string",
    "description": "If a list of URIs is being played, the next media URI to be played back."
   }
  },
  "id": "Playback",
  "description": "Object representing the playback of media to a channel"
 }
}
"#;

/// Models of `applications.json`.
pub const APPLICATIONS: &str = r#"
{
 "Application": {
  "id": "Application",
  "description": "Details of a Stasis application",
  "properties": {
   "name": {
    "required": true,
    "type": "string",
    "description": "Name of this application"
   },
   "channel_ids": {
    "required": true,
    "type": "List[string]",
    "description": "Id's for channels subscribed to."
   },
   "bridge_ids": {
    "required": true,
    "type": "List[string]",
    "description": "Id's for bridges subscribed to."
   },
   "endpoint_ids": {
    "required": true,
    "type": "List[string]",
    "description": "{tech}/{resource} for endpoints subscribed to."
   },
   "device_names": {
    "required": true,
    "type": "List[string]",
    "description": "Names of the devices subscribed to."
   },
   "events_allowed": {
    "required": true,
    "type": "List[object]",
    "description": "Event types sent to the application."
   },
   "events_disallowed": {
    "required": true,
    "type": "List[object]",
    "description": "Event types not sent to the application."
   }
  }
 }
}
"#;

/// Models of `deviceStates.json`.
pub const DEVICE_STATES: &str = r#"
{
 "DeviceState": {
  "id": "DeviceState",
  "description": "Represents the state of a device.",
  "properties": {
   "name": {
    "required": true,
    "type": "string",
    "description": "Name of the device."
   },
   "state": {
    "required": true,
    "type": "string",
    "description": "Device's state",
    "allowableValues": {
     "valueType": "LIST",
     "values": [
      "UNKNOWN",
      "NOT_INUSE",
      "INUSE",
      "BUSY",
      "INVALID",
      "UNAVAILABLE",
      "RINGING",
      "RINGINUSE",
      "ONHOLD"
     ]
    }
   }
  }
 }
}
"#;

/// Models of `mailboxes.json`.
pub const MAILBOXES: &str = r#"
{
 "Mailbox": {
  "id": "Mailbox",
  "description": "Represents the state of a mailbox.",
  "properties": {
   "name": {
    "required": true,
    "type": "string",
    "description": "Name of the mailbox."
   },
   "old_messages": {
    "required": true,
    "type": "int",
    "description": "Count of old messages in the mailbox."
   },
   "new_messages": {
    "required": true,
    "type": "int",
    "description": "Count of new messages in the mailbox."
   }
  }
 }
}
"#;

/// Models of `events.json`.
pub const EVENTS: &str = r#"
{
 "Message": {
  "id": "Message",
  "description": "Base type for errors and events",
  "discriminator": "type",
  "properties": {
   "type": {
    "required": true,
    "type": "string",
    "description": "Indicates the type of this message."
   },
   "asterisk_id": {
    "required": false,
    "type": "string",
    "description": "The unique ID for the Asterisk instance that raised this event."
   }
  }
 },
 "ApplicationReplaced": {
  "properties": {},
  "extends": "Event",
  "id": "ApplicationReplaced",
  "description": "Notification that another WebSocket has taken over for an application.\n\nAn application may only be subscribed to by a single WebSocket at a time. If multiple WebSockets attempt to subscribe to the same application, the newer WebSocket wins, and the older one receives this event."
 },
 "BridgeCreated": {
  "properties": {
   "bridge": {
    "required": true,
    "type": "Bridge"
   }
  },
  "extends": "Event",
  "id": "BridgeCreated",
  "description": "Notification that a bridge has been created."
 },
 "BridgeDestroyed": {
  "properties": {
   "bridge": {
    "required": true,
    "type": "Bridge"
   }
  },
  "extends": "Event",
  "id": "BridgeDestroyed",
  "description": "Notification that a bridge has been destroyed."
 },
 "BridgeMerged": {
  "properties": {
   "bridge": {
    "required": true,
    "type": "Bridge"
   },
   "bridge_from": {
    "required": true,
    "type": "Bridge"
   }
  },
  "extends": "Event",
  "id": "BridgeMerged",
  "description": "Notification that one bridge has merged into another."
 },
 "ChannelCallerId": {
  "properties": {
   "caller_presentation_txt": {
    "required": true,
    "type": "string",
    "description": "The text representation of the Caller Presentation value."
   },
   "caller_presentation": {
    "required": true,
    "type": "int",
    "description": "The integer representation of the Caller Presentation value."
   },
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel that changed Caller ID."
   }
  },
  "extends": "Event",
  "id": "ChannelCallerId",
  "description": "Channel changed Caller ID."
 },
 "ChannelCreated": {
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "ChannelCreated",
  "description": "Notification that a channel has been created."
 },
 "ChannelDestroyed": {
  "properties": {
   "cause": {
    "required": true,
    "type": "int",
    "description": "Integer representation of the cause of the hangup"
   },
   "cause_txt": {
    "required": true,
    "type": "string",
    "description": "Text representation of the cause of the hangup"
   },
   "channel": {
    "required": true,
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "ChannelDestroyed",
  "description": "Notification that a channel has been destroyed."
 },
 "ChannelDialplan": {
  "properties": {
   "dialplan_app_data": {
    "required": true,
    "type": "string",
    "description": "The data to be passed to the application."
   },
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel that changed dialplan location."
   },
   "dialplan_app": {
    "required": true,
    "type": "string",
    "description": "The application about to be executed."
   }
  },
  "extends": "Event",
  "id": "ChannelDialplan",
  "description": "Channel changed location in the dialplan."
 },
 "ChannelDtmfReceived": {
  "properties": {
   "duration_ms": {
    "required": true,
    "type": "int",
    "description": "Number of milliseconds DTMF was received"
   },
   "digit": {
    "required": true,
    "type": "string",
    "description": "DTMF digit received (0-9, A-E, # or *)"
   },
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel on which DTMF was received"
   }
  },
  "extends": "Event",
  "id": "ChannelDtmfReceived",
  "description": "DTMF received on a channel.\n\nThis event is sent when the DTMF ends. There is no notification about the start of DTMF"
 },
 "ChannelEnteredBridge": {
  "properties": {
   "bridge": {
    "required": true,
    "type": "Bridge"
   },
   "channel": {
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "ChannelEnteredBridge",
  "description": "Notification that a channel has entered a bridge."
 },
 "ChannelHangupRequest": {
  "properties": {
   "soft": {
    "type": "boolean",
    "description": "Whether the hangup request was a soft hangup request."
   },
   "cause": {
    "type": "int",
    "description": "Integer representation of the cause of the hangup."
   },
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel on which the hangup was requested."
   }
  },
  "extends": "Event",
  "id": "ChannelHangupRequest",
  "description": "A hangup was requested on the channel."
 },
 "ChannelLeftBridge": {
  "properties": {
   "bridge": {
    "required": true,
    "type": "Bridge"
   },
   "channel": {
    "required": true,
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "ChannelLeftBridge",
  "description": "Notification that a channel has left a bridge."
 },
 "ChannelStateChange": {
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "ChannelStateChange",
  "description": "Notification of a channel's state change."
 },
 "ChannelUserevent": {
  "properties": {
   "eventname": {
    "required": true,
    "type": "string",
    "description": "The name of the user event."
   },
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel that signaled the user event."
   },
   "bridge": {
    "required": false,
    "type": "Bridge",
    "description": "A bridge that is signaled with the user event."
   },
   "endpoint": {
    "required": false,
    "type": "Endpoint",
    "description": "A endpoint that is signaled with the user event."
   },
   "userevent": {
    "required": true,
    "type": "object",
    "description": "Custom Userevent data"
   }
  },
  "extends": "Event",
  "id": "ChannelUserevent",
  "description": "User-generated event with additional user-defined fields in the object."
 },
 "ChannelVarset": {
  "properties": {
   "variable": {
    "required": true,
    "type": "string",
    "description": "The variable that changed."
   },
   "channel": {
    "required": false,
    "type": "Channel",
    "description": "The channel on which the variable was set.\n\nIf missing, the variable is a global variable."
   },
   "value": {
    "required": true,
    "type": "string",
    "description": "The new value of the variable."
   }
  },
  "extends": "Event",
  "id": "ChannelVarset",
  "description": "Channel variable changed."
 },
 "Event": {
  "properties": {
   "application": {
    "required": true,
    "type": "string",
    "description": "Name of the application receiving the event."
   },
   "timestamp": {
    "required": false,
    "type": "Date",
    "description": "Time at which this event was created."
   },
   "sequence": {
    "required": false,
    "type": "long",
    "description": "switchboard: this event's sequence number within its application (1, 2, ...); reconnect with last_event=<n> to get the events after n that are still in the replay window."
   }
  },
  "extends": "Message",
  "id": "Event",
  "description": "Base type for asynchronous events from Asterisk."
 },
 "MissingParams": {
  "properties": {
   "params": {
    "required": true,
    "type": "List[string]",
    "description": "A list of the missing parameters"
   }
  },
  "extends": "Message",
  "id": "MissingParams",
  "description": "Error event sent when required params are missing."
 },
 "PlaybackFinished": {
  "properties": {
   "playback": {
    "required": true,
    "type": "Playback",
    "description": "Playback control object"
   }
  },
  "extends": "Event",
  "id": "PlaybackFinished",
  "description": "Event showing the completion of a media playback operation."
 },
 "PlaybackStarted": {
  "properties": {
   "playback": {
    "required": true,
    "type": "Playback",
    "description": "Playback control object"
   }
  },
  "extends": "Event",
  "id": "PlaybackStarted",
  "description": "Event showing the start of a media playback operation."
 },
 "StasisEnd": {
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "StasisEnd",
  "description": "Notification that a channel has left a Stasis appliction."
 },
 "StasisStart": {
  "properties": {
   "args": {
    "required": true,
    "type": "List[string]",
    "description": "Arguments to the application"
   },
   "channel": {
    "required": true,
    "type": "Channel"
   },
   "replace_channel": {
    "required": false,
    "type": "Channel"
   }
  },
  "extends": "Event",
  "id": "StasisStart",
  "description": "Notification that a channel has entered a Stasis appliction."
 },
 "ChannelHold": {
  "id": "ChannelHold",
  "description": "A channel initiated a media hold.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel that initiated the hold event."
   },
   "musicclass": {
    "required": false,
    "type": "string",
    "description": "The music on hold class that the initiator requested."
   }
  },
  "extends": "Event"
 },
 "ChannelUnhold": {
  "id": "ChannelUnhold",
  "description": "A channel initiated a media unhold.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel that initiated the unhold event."
   }
  },
  "extends": "Event"
 },
 "Dial": {
  "id": "Dial",
  "description": "Dialing state has changed.",
  "properties": {
   "caller": {
    "required": false,
    "type": "Channel",
    "description": "The calling channel."
   },
   "peer": {
    "required": true,
    "type": "Channel",
    "description": "The dialed channel."
   },
   "forward": {
    "required": false,
    "type": "string",
    "description": "Forwarding target requested by the original dialed channel."
   },
   "forwarded": {
    "required": false,
    "type": "Channel",
    "description": "Channel that the caller has been forwarded to."
   },
   "dialstring": {
    "required": false,
    "type": "string",
    "description": "The dial string for calling the peer channel."
   },
   "dialstatus": {
    "required": true,
    "type": "string",
    "description": "Current status of the dialing attempt to the peer."
   }
  },
  "extends": "Event"
 },
 "ChannelTalkingStarted": {
  "id": "ChannelTalkingStarted",
  "description": "Talking was detected on the channel.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel on which talking started."
   }
  },
  "extends": "Event"
 },
 "ChannelTalkingFinished": {
  "id": "ChannelTalkingFinished",
  "description": "Talking is no longer detected on the channel.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel on which talking completed."
   },
   "duration": {
    "required": true,
    "type": "int",
    "description": "The length of time, in milliseconds, that talking was detected on the channel"
   }
  },
  "extends": "Event"
 },
 "ChannelConnectedLine": {
  "id": "ChannelConnectedLine",
  "description": "Channel changed Connected Line.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel whose connected line has changed."
   }
  },
  "extends": "Event"
 },
 "ChannelToneDetected": {
  "id": "ChannelToneDetected",
  "description": "Tone was detected on the channel.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel the tone was detected on."
   }
  },
  "extends": "Event"
 },
 "EndpointStateChange": {
  "id": "EndpointStateChange",
  "description": "Endpoint state changed.",
  "properties": {
   "endpoint": {
    "required": true,
    "type": "Endpoint"
   }
  },
  "extends": "Event"
 },
 "DeviceStateChanged": {
  "id": "DeviceStateChanged",
  "description": "Notification that a device state has changed.",
  "properties": {
   "device_state": {
    "required": true,
    "type": "DeviceState",
    "description": "Device state object"
   }
  },
  "extends": "Event"
 },
 "PlaybackContinuing": {
  "id": "PlaybackContinuing",
  "description": "Event showing the continuation of a media playback operation from one media URI to the next in the list.",
  "properties": {
   "playback": {
    "required": true,
    "type": "Playback",
    "description": "Playback control object"
   }
  },
  "extends": "Event"
 },
 "RecordingStarted": {
  "id": "RecordingStarted",
  "description": "Event showing the start of a recording operation.",
  "properties": {
   "recording": {
    "required": true,
    "type": "LiveRecording",
    "description": "Recording control object"
   }
  },
  "extends": "Event"
 },
 "RecordingFinished": {
  "id": "RecordingFinished",
  "description": "Event showing the completion of a recording operation.",
  "properties": {
   "recording": {
    "required": true,
    "type": "LiveRecording",
    "description": "Recording control object"
   }
  },
  "extends": "Event"
 },
 "RecordingFailed": {
  "id": "RecordingFailed",
  "description": "Event showing failure of a recording operation.",
  "properties": {
   "recording": {
    "required": true,
    "type": "LiveRecording",
    "description": "Recording control object"
   }
  },
  "extends": "Event"
 },
 "TextMessageReceived": {
  "id": "TextMessageReceived",
  "description": "A text message was received from an endpoint.",
  "properties": {
   "message": {
    "required": true,
    "type": "TextMessage"
   },
   "endpoint": {
    "required": false,
    "type": "Endpoint"
   }
  },
  "extends": "Event"
 },
 "ApplicationMoveFailed": {
  "id": "ApplicationMoveFailed",
  "description": "Notification that trying to move a channel to another Stasis application failed.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel"
   },
   "destination": {
    "required": true,
    "type": "string"
   },
   "args": {
    "required": true,
    "type": "List[string]",
    "description": "Arguments to the application"
   }
  },
  "extends": "Event"
 },
 "BridgeVideoSourceChanged": {
  "id": "BridgeVideoSourceChanged",
  "description": "Notification that the source of video in a bridge has changed.",
  "properties": {
   "bridge": {
    "required": true,
    "type": "Bridge"
   },
   "old_video_source_id": {
    "required": false,
    "type": "string"
   }
  },
  "extends": "Event"
 },
 "BridgeBlindTransfer": {
  "id": "BridgeBlindTransfer",
  "description": "Notification that a blind transfer has occurred.",
  "properties": {
   "channel": {
    "required": true,
    "type": "Channel",
    "description": "The channel performing the blind transfer"
   },
   "replace_channel": {
    "required": false,
    "type": "Channel",
    "description": "The channel that is replacing transferer when the transferee(s) can not be transferred directly"
   },
   "transferee": {
    "required": false,
    "type": "Channel",
    "description": "The channel that is being transferred"
   },
   "exten": {
    "required": true,
    "type": "string",
    "description": "The extension transferred to"
   },
   "context": {
    "required": true,
    "type": "string",
    "description": "The context transferred to"
   },
   "result": {
    "required": true,
    "type": "string",
    "description": "The result of the transfer attempt"
   },
   "is_external": {
    "required": true,
    "type": "boolean",
    "description": "Whether the transfer was externally initiated or not"
   },
   "bridge": {
    "required": false,
    "type": "Bridge",
    "description": "The bridge being transferred"
   }
  },
  "extends": "Event"
 },
 "BridgeAttendedTransfer": {
  "id": "BridgeAttendedTransfer",
  "description": "Notification that an attended transfer has occurred.",
  "properties": {
   "transferer_first_leg": {
    "required": true,
    "type": "Channel",
    "description": "First leg of the transferer"
   },
   "transferer_second_leg": {
    "required": true,
    "type": "Channel",
    "description": "Second leg of the transferer"
   },
   "replace_channel": {
    "required": false,
    "type": "Channel",
    "description": "The channel that is replacing transferer_first_leg in the swap"
   },
   "transferee": {
    "required": false,
    "type": "Channel",
    "description": "The channel that is being transferred"
   },
   "transfer_target": {
    "required": false,
    "type": "Channel",
    "description": "The channel that is being transferred to"
   },
   "result": {
    "required": true,
    "type": "string",
    "description": "The result of the transfer attempt"
   },
   "is_external": {
    "required": true,
    "type": "boolean",
    "description": "Whether the transfer was externally initiated or not"
   },
   "transferer_first_leg_bridge": {
    "required": false,
    "type": "Bridge",
    "description": "Bridge the transferer first leg is in"
   },
   "transferer_second_leg_bridge": {
    "required": false,
    "type": "Bridge",
    "description": "Bridge the transferer second leg is in"
   },
   "destination_type": {
    "required": true,
    "type": "string",
    "description": "How the transfer was accomplished"
   },
   "destination_bridge": {
    "required": false,
    "type": "string",
    "description": "Bridge that survived the merge result"
   },
   "destination_application": {
    "required": false,
    "type": "string",
    "description": "Application that has been transferred into"
   },
   "destination_link_first_leg": {
    "required": false,
    "type": "Channel",
    "description": "First leg of a link transfer result"
   },
   "destination_link_second_leg": {
    "required": false,
    "type": "Channel",
    "description": "Second leg of a link transfer result"
   },
   "destination_threeway_channel": {
    "required": false,
    "type": "Channel",
    "description": "Transferer channel that survived the threeway result"
   },
   "destination_threeway_bridge": {
    "required": false,
    "type": "Bridge",
    "description": "Bridge that survived the threeway result"
   }
  },
  "extends": "Event"
 }
}
"#;
